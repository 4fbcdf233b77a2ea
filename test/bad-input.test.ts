import { closeTestClient, runFailure, scheduledActivityTypes, startRunbook } from './helpers/temporal';

afterAll(closeTestClient);

const corpus: Array<[string, string, unknown, RegExp[]]> = [
  ['hostFacts', 'no object at all', 'node1', [/expected one JSON object, got string/]],
  ['hostFacts', 'an array', ['node1'], [/expected one JSON object, got an array/]],
  ['hostFacts', 'null', null, [/got null/]],
  ['hostFacts', 'empty object', {}, [/hosts: /]],
  ['hostFacts', 'empty host list', { hosts: [] }, [/hosts: name at least one host/]],
  ['hostFacts', 'shell in a host name', { hosts: ['node1; rm -rf /'] }, [/hosts\[0\]: a host name/]],
  ['hostFacts', 'unknown field and bad mode together', { hosts: ['node1'], mode: 'yolo', extra: 1 }, [/mode: /, /extra/]],
  ['engineDrill', 'every field wrong', { host: 'Node 1', dir: '/etc/../shadow', steps: 0, stepSeconds: -1, approvalTimeout: 'soon' }, [/host: a host name/, /dir: /, /steps: /, /stepSeconds: /, /approvalTimeout: a duration/]],
  ['engineDrill', 'path traversal', { host: 'node1', dir: '/var/tmp/engine-drill/../../etc' }, [/dir: a path without "\.\."/]],
];

test.each(corpus)('%s with %s fails at once with one non-retryable error listing every problem', async (type, _what, input, expected) => {
  const handle = await startRunbook(type, input);
  const failure = await runFailure(handle);
  expect(failure.type).toBe('InvalidInput');
  expect(failure.nonRetryable).toBe(true);
  for (const re of expected) expect(failure.message).toMatch(re);
  expect(await scheduledActivityTypes(handle)).toEqual([]);
  const history = await handle.fetchHistory();
  // one workflow task, then the failure: no retries of the workflow, no activity
  expect(history.events?.filter((e) => e.workflowExecutionFailedEventAttributes)).toHaveLength(1);
});
