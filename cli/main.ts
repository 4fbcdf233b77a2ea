import { Command, Option } from 'commander';
import { CliError, EXIT } from './exit-codes';
import { approveCommand, cancelCommand, historyCommand, listCommand, startCommand, statusCommand, type Output } from './commands/runs';
import { labCheckCommand, labDownCommand, labStatusCommand, labUpCommand } from './commands/lab';
import { devCommand } from './commands/dev';
import { replayCommand } from './commands/replay';
import { retroCommand } from './commands/retro';
import { scheduleCreateCommand, scheduleDeleteCommand, scheduleDescribeCommand, scheduleListCommand, schedulePauseCommand, scheduleTriggerCommand } from './commands/schedule';
import { catalog } from '../runbooks/catalog';

const program = new Command();
program
  .name('runbook')
  .description('Durable runbooks for storage and VM infrastructure, on Temporal.\nConnection: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS* (default 127.0.0.1:7233).')
  .option('--json', 'machine-readable output for scripts')
  .showHelpAfterError()
  .addHelpText(
    'after',
    `\nExit codes: 0 success, 1 run failed/cancelled or approval refused, 2 bad usage or input, 3 Temporal unreachable, 4 no such workflow or schedule, 5 completed but targets need an operator.\nRunbooks: ${catalog.map((e) => e.name).join(', ')}`,
  );

function output(): Output {
  return { json: Boolean(program.opts().json), out: (s) => process.stdout.write(`${s}\n`) };
}

let exitCode: number = EXIT.ok;
const run =
  (fn: (...a: any[]) => Promise<number>) =>
  async (...args: any[]) => {
    exitCode = await fn(...args);
  };

program
  .command('start')
  .description('start a runbook; --wait follows its steps and exits 0 only if it succeeds')
  .argument('<runbook>', 'workflow type, e.g. hostFacts')
  .option('-i, --input <json|file>', 'the runbook input: one JSON object or a file holding one (with --input-from: what to add or override)')
  .option('--input-from <workflowId>', "make the input from a finished run of the runbook before it in the chain (maasRepartition → seedRegions → liveMigrate): that run's input and result")
  .option('--plan', 'plan mode: read-only, returns the mutations with their exact commands')
  .option('--wait', 'follow the steps live and wait for the result')
  .option('--id <workflowId>', 'workflow id (default: <runbook>/<targets>/<time>)')
  .option('--approve <step...>', 'pre-approve these gated steps')
  .option(
    '--no-preflight',
    "skip the runbook's read-only pre-flight (maasRepartition asks MAAS about the machine and its disk before starting); the run still refuses the same problems in its first steps",
  )
  .addHelpText(
    'after',
    '\nExamples:\n  runbook start hostFacts --input runbooks/hostFacts/examples/lab.json --wait\n  runbook start engineDrill --input \'{"host":"node1","dir":"/var/tmp/engine-drill/x"}\' --plan --wait --json\n  runbook start seedRegions --input-from <maasRepartition workflow id> --input \'{"address":"127.0.0.61","image":{"path":"/root/images/os.raw"}}\' --wait',
  )
  .action(run((runbook, opts) => startCommand(runbook, opts, output())));

program
  .command('list')
  .description('recent runbook runs, newest first')
  .option('--runbook <name>')
  .option('--target <host>')
  .option('--outcome <running|succeeded|failed|cancelled|planned>')
  .option('--limit <n>', 'at most n rows', '20')
  .action(run((opts) => listCommand(opts, output())));

program
  .command('status')
  .description("a run's status and step table")
  .argument('<workflowId>')
  .action(run((id) => statusCommand(id, output())));

program
  .command('approve')
  .description('approve (or --reject) the step a run is waiting on')
  .argument('<workflowId>')
  .argument('<step>')
  .option('--reject', 'reject instead: the run fails and compensates')
  .option('--comment <text>', 'why; kept in the audit log')
  .option('--approver <name>', 'who decides (default: $RUNBOOK_APPROVER, else <OS user>@<hostname>, the user sudo ran as if any)')
  .action(run((id, step, opts) => approveCommand(id, step, opts, output())));

program
  .command('cancel')
  .description('cancel a run; it compensates what it did before it ends')
  .argument('<workflowId>')
  .option('--wait', 'wait until it has ended')
  .action(run((id, opts) => cancelCommand(id, opts, output())));

program
  .command('history')
  .description("export a run's full event history as JSON (replayable)")
  .argument('<workflowId>')
  .option('-o, --out <file.json>', 'where to write it')
  .action(run((id, opts) => historyCommand(id, opts, output())));

program
  .command('replay')
  .description("replay recorded histories against this checkout's workflow code; names the step where one diverges")
  .argument('<history...>', 'history JSON files, folders of them, or workflow ids (fetched from Temporal)')
  .option('--run-id <runId>', 'with a workflow id: that run, not the latest')
  .option('--workflows <path>', 'another workflows entry file to replay against (default: workflows/index.ts)')
  .addHelpText('after', '\nExamples:\n  runbook replay test/histories/\n  runbook replay archive/engineDrill/\n  runbook replay engineDrill/node1/20261121T094200Z --json')
  .action(run((refs, opts) => replayCommand(refs, opts, output())));

program
  .command('retro')
  .description('write a retrospective of a run from its history: steps, attempts, commands, approvals, compensations, timeline')
  .argument('<history>', 'a workflow id (fetched from Temporal) or a history JSON file (runbook history, archive/)')
  .option('--format <md|html>', 'markdown (default) or a self-contained HTML page with a timeline')
  .option('-o, --out <file>', 'write it here instead of stdout')
  .option('--run-id <runId>', 'with a workflow id: that run, not the latest')
  .addHelpText('after', '\nExamples:\n  runbook retro engineDrill/node1/20261121T094200Z --format html --out retro.html\n  runbook retro archive/engineDrill/<file>.json > retro.md')
  .action(run((ref, opts) => retroCommand(ref, opts, output())));

program
  .command('worker')
  .description('run the runbooks worker in the foreground')
  .action(
    run(async () => {
      await import('../workers/main');
      await new Promise(() => undefined);
      return EXIT.ok;
    }),
  );

const schedule = program.command('schedule').description("run a runbook on a Temporal Schedule (the server fires it; the Web UI's Schedules page shows it)");
schedule
  .command('create')
  .description('create a schedule; the input is validated like runbook start (bad input: exit 2, nothing created)')
  .argument('<scheduleId>', 'e.g. sweep-compute')
  .argument('<runbook>', 'workflow type, e.g. replicateProjects')
  .requiredOption('-i, --input <json|file>', 'the input every run gets: one JSON object or a file holding one')
  .requiredOption('--every <duration>', 'interval: 30s, 10m, 1h, 1d')
  .option('--offset <duration>', 'shift the interval (e.g. every 1h at :05: --every 1h --offset 5m)')
  .option('--overlap <policy>', 'when a run is still open at the next fire: skip (default; counted), buffer-one, buffer-all, cancel-other, allow-all', 'skip')
  .option('--catchup-window <duration>', 'after a server outage, fires missed by less than this still run', '1m')
  .option('--plan', 'every run in plan mode')
  .option('--approve <step...>', 'pre-approve these gated steps in every run')
  .option('--paused', 'create it paused')
  .option('--note <text>', 'why it exists (shown in describe and the UI)')
  .addHelpText('after', '\nExample:\n  runbook schedule create sweep-compute replicateProjects --input runbooks/replicateProjects/examples/lab.json --every 10m')
  .action(run((id, runbook, opts) => scheduleCreateCommand(id, runbook, opts, output())));
schedule
  .command('list')
  .description('every schedule')
  .action(run(() => scheduleListCommand(output())));
schedule
  .command('describe')
  .description('policies, counts (taken, skipped by overlap, missed), next fires and every run it started')
  .argument('<scheduleId>')
  .option('--limit <n>', 'at most n runs', '50')
  .action(run((id, opts) => scheduleDescribeCommand(id, opts, output())));
schedule
  .command('pause')
  .description('stop firing until unpaused')
  .argument('<scheduleId>')
  .option('--note <text>', 'why (shown in describe and the UI)')
  .action(run((id, opts) => schedulePauseCommand(id, opts, true, output())));
schedule
  .command('unpause')
  .description('fire again')
  .argument('<scheduleId>')
  .option('--note <text>', 'why')
  .action(run((id, opts) => schedulePauseCommand(id, opts, false, output())));
schedule
  .command('trigger')
  .description('fire once now (under the overlap policy), paused or not')
  .argument('<scheduleId>')
  .action(run((id) => scheduleTriggerCommand(id, output())));
schedule
  .command('delete')
  .description('delete the schedule; the runs it started are left as they are')
  .argument('<scheduleId>')
  .action(run((id) => scheduleDeleteCommand(id, output())));

const lab = program.command('lab').description('the embedded lab datacenter (needs root)');
lab
  .command('up')
  .description('start lab hosts (sshd in namespaces) and write the inventory')
  .addOption(new Option('--scenario <name...>', 'scenarios to add to the base hosts'))
  .option('--full-size', "build scenarios at the incident's real size")
  .option('--rebuild', "rebuild the scenarios' hosts even if up (a freshly broken host)")
  .action(run((opts) => labUpCommand(opts, output())));
lab
  .command('down')
  .description('stop exactly what lab up started')
  .action(run(() => labDownCommand(output())));
lab
  .command('status')
  .description('lab hosts and whether they are up')
  .action(run(() => labStatusCommand(output())));
lab
  .command('check')
  .description("a scenario's independent health check")
  .argument('<scenario>')
  .action(run((s) => labCheckCommand(s, output())));

program
  .command('dev')
  .description("what `npm start` runs: Temporal, the lab with every scenario, a worker, hostFacts, fixReadonlyData's plan and a tour of every runbook; serves until Ctrl-C")
  .addOption(new Option('--scenario <name...>', 'lab scenarios to add'))
  .action(run((opts) => devCommand(opts, output())));

const server = program.command('server').description('the local Temporal dev server');
server.command('start').action(
  run(async () => {
    const { ensureTemporalDevServer, uiUrl } = await import('../lab/temporal-dev-server');
    await ensureTemporalDevServer((l) => console.log(l));
    console.log(`UI: ${uiUrl}`);
    return EXIT.ok;
  }),
);
server.command('stop').action(
  run(async () => {
    const { stopTemporalDevServer } = await import('../lab/temporal-dev-server');
    await stopTemporalDevServer((l) => console.log(l));
    return EXIT.ok;
  }),
);

program.parseAsync(process.argv).then(
  () => process.exit(exitCode),
  (err) => {
    if (err instanceof CliError) {
      process.stderr.write(`runbook: ${err.message}\n`);
      process.exit(err.exitCode);
    }
    process.stderr.write(`runbook: ${(err as Error).stack ?? err}\n`);
    process.exit(EXIT.runFailed);
  },
);
