import { execInHost } from '../../lab/exec';
import { shq } from '../../activities/ssh/command';

/** Read a host's file through its namespace, not through the engine under test. */
export async function readHostFile(host: string, file: string): Promise<string> {
  const r = await execInHost(host, `cat ${shq(file)} 2>/dev/null || true`);
  return r.stdout;
}

export async function hostLines(host: string, file: string): Promise<string[]> {
  return (await readHostFile(host, file)).split('\n').filter(Boolean);
}
