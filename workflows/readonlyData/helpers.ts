import type { CommandRecord, StepOutput } from '../../common/step';

/** Run an act for each item in turn, as one step: its values in order and all its commands. */
export async function each<T>(items: string[], act: (item: string) => Promise<StepOutput<T>>): Promise<StepOutput<T[]>> {
  const value: T[] = [];
  const commands: CommandRecord[] = [];
  for (const item of items) {
    const out = await act(item);
    value.push(out.value);
    commands.push(...out.commands);
  }
  return { value, commands };
}
