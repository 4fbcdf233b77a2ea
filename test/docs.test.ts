import { catalog } from '../runbooks/catalog';
import { END, inputTable, readmeStates, START, withInputTable } from '../scripts/input-docs';
import { z } from 'zod';

// The input table in every runbook's README is generated from its schema (scripts/docs.ts). This
// fails when a schema changed and the README was not regenerated, so the docs cannot drift.

test.each(catalog.map((e) => e.name))('runbooks/%s/README.md has an up-to-date input table (npx tsx scripts/docs.ts)', (name) => {
  const state = readmeStates().find((s) => s.name === name)!;
  expect(state.current).not.toBeNull();
  expect(state.current).toContain(START);
  expect(state.current).toBe(state.wanted);
});

test('a changed schema makes the table stale: fields, defaults and descriptions all come from the schema', () => {
  const schema = z.object({ host: z.string().describe('where'), count: z.number().int().min(1).max(9).default(3).describe('how many') });
  const table = inputTable({ name: 'demo', schema });
  expect(table).toContain('| `host` | string | **required** | where |');
  expect(table).toContain('| `count` | integer 1–9 | `3` | how many |');
  const readme = withInputTable('# demo\n\nintro\n\n## Steps\n', table);
  expect(readme.indexOf(START)).toBeLessThan(readme.indexOf('## Steps'));
  const changed = inputTable({ name: 'demo', schema: schema.extend({ count: z.number().int().min(1).max(9).default(4).describe('how many') }) });
  expect(withInputTable(readme, changed)).not.toBe(readme);
  expect(withInputTable(withInputTable(readme, changed), changed)).toBe(withInputTable(readme, changed));
  expect(readme.split(END)).toHaveLength(2);
});
