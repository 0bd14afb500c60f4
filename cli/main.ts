#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from 'commander';
// Each command loads its own modules when it runs: an agent does not carry the dashboard, the demo or the CLI views (~4 MiB of its resident memory).

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

const program = new Command()
  .name('colo-ft')
  .description('Fault-tolerance orchestrator for QEMU COLO pairs')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

let exitCode = 0;

program
  .command('agent')
  .description("run one host's agent")
  .requiredOption('--config <file>', 'pair config (YAML)')
  .requiredOption('--node <name>', 'this host, as named in the config')
  .option('--log-level <level>', 'pino level', undefined)
  .addOption(new Option('--on-exit <what>', 'on SIGTERM/SIGINT: stop the VMs, or leave them running for the next agent to adopt (default: leave-vms under systemd, else stop-vms)').choices(['stop-vms', 'leave-vms']))
  .action(async (o) => {
    exitCode = await (await import('./commands/agent.js')).runAgent(o);
  });

program
  .command('status')
  .description('ask the agents and print each VM: protected, phase, reason, nodes, checkpoints')
  .requiredOption('--config <file>', 'pair config (YAML)')
  .option('--vm <name>', 'only this VM')
  .option('--json', 'one JSON object per VM per line')
  .option('--timeout-ms <ms>', 'how long to wait for each agent', positiveInt, 2_000)
  .option('--watch', 'follow the status feed until Ctrl-C')
  .action(async (o) => {
    exitCode = await (await import('./commands/status.js')).runStatus(o);
  });

program
  .command('serve')
  .description('serve the dashboard, /events (SSE) and /metrics (Prometheus) for every VM on the NATS')
  .requiredOption('--config <file>', 'pair config (YAML)')
  .option('--listen <addr>', 'PORT, HOST:PORT or [IPV6]:PORT; loopback unless a host is named', '127.0.0.1:8484')
  .option('--log-level <level>', 'pino level (to stderr)', undefined)
  .action(async (o) => {
    exitCode = await (await import('./commands/serve.js')).runServe(o);
  });

program
  .command('drill')
  .description('inject a fault on one side, watch the other take over, verify the data')
  .requiredOption('--config <file>', 'pair config (YAML)')
  .requiredOption('--vm <name>', 'the VM to drill')
  .addOption(new Option('--fail <side>', 'which side fails').choices(['primary', 'secondary']).makeOptionMandatory())
  .addOption(new Option('--mode <mode>', 'crash: SIGKILL qemu; hang: SIGSTOP qemu; partition: the agent goes silent').choices(['crash', 'hang', 'partition']).default('crash'))
  .option('--yes', 'do not ask for confirmation')
  .option('--json', 'print the report as one JSON object')
  .option('--timeout-ms <ms>', 'how long to wait for the takeover', positiveInt, 30_000)
  .option('--restore', 'after the takeover, restore protection and report its timeline')
  .action(async (o) => {
    exitCode = await (await import('./commands/drill.js')).runDrillCommand(o);
  });

program
  .command('restore')
  .description('bring the lost node back as a fresh secondary, resync, and resume protection')
  .requiredOption('--config <file>', 'pair config (YAML)')
  .requiredOption('--vm <name>', 'the VM to restore')
  .option('--to <node>', 'the node to restore onto (default: the other node)')
  .option('--bandwidth <bytesPerSec>', 'resync bandwidth limit, also changes a running resync (0 = unlimited)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected bytes per second, 0 or more');
    return n;
  })
  .option('--json', 'print the report as one JSON object')
  .option('--timeout-ms <ms>', 'how long to wait for protection', positiveInt, 120_000)
  .action(async (o) => {
    exitCode = await (await import('./commands/restore.js')).runRestoreCommand(o);
  });

const config = program.command('config').description('configuration tools');
config
  .command('check')
  .description('validate a config and print every error with its path')
  .argument('<file>')
  .option('--json', 'print the result as JSON')
  .option('--node <name>', "check this node's certificate (expected on this host)")
  .action(async (file: string, o) => {
    exitCode = (await import('./commands/config-check.js')).runConfigCheck(file, o);
  });

const certs = program.command('certs').description("the pair's TLS certificates for NBD and the COLO stream");
certs
  .command('init')
  .description("create the pair's CA and a certificate and key per node in replication.pkiDir")
  .requiredOption('--config <file>', 'pair config (YAML)')
  .option('--days <n>', 'validity of the node certificates', positiveInt, 825)
  .option('--force', 'replace a CA already there')
  .option('--json', 'print the result as JSON')
  .action(async (o) => {
    exitCode = (await import('./commands/certs.js')).runCertsInit(o);
  });

program
  .command('demo')
  .description('a protected pair on loopback: nats-server, two agents, one VM; Ctrl-C tears it down')
  .option('--until <state>', "exit once the pair reaches this state ('protected')")
  .option('--json', 'print the status as one JSON object')
  .option('--timeout-ms <ms>', 'bound for --until', positiveInt, 60_000)
  .option('--interval-ms <ms>', 'how often to refresh the status', positiveInt, 1_000)
  .option('--dir <dir>', 'working directory (default: a new temp dir)')
  .addOption(new Option('--accelerator <accel>', 'force an accelerator').choices(['auto', 'kvm', 'tcg']))
  .addOption(new Option('--drill <side>', 'once protected, fail this side and report the takeover').choices(['primary', 'secondary']))
  .addOption(new Option('--mode <mode>', 'drill fault').choices(['crash', 'hang', 'partition']).default('crash'))
  .option('--yes', 'do not ask before the drill')
  .option('--restore', 'after the drill, restore protection and report it')
  .option('--guest', 'protect a tiny real Linux guest (built from Debian packages) instead of the drive-only VM')
  .action(async (o) => {
    exitCode = await (await import('./commands/demo.js')).runDemo(o);
  });

await program.parseAsync(process.argv);
process.exit(exitCode);
