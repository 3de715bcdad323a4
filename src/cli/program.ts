/**
 * The `kvflow` command line as commander reads it (main.ts): one sub-command per file in this folder, each
 * thin (parse, call, print). Only the invoked command's module is imported, so `kvflow replay` never loads
 * the HTTP or plotting libraries and `kvflow --help` loads none of the commands: the others are listed by
 * their one-line summaries.
 */
import { Command } from 'commander';
import { createRequire } from 'node:module';

type Register = (program: Command) => void;

/** Every command in help order, with the summary `kvflow --help` lists and how to load it. */
const COMMANDS: { name: string; summary: string; load: () => Promise<Register> }[] = [
  { name: 'replay', summary: 'cache-only replay of a trace: hit rate per eviction policy and capacity', load: async () => (await import('./replay.js')).registerReplay },
  { name: 'simulate', summary: 'discrete-event serving simulation: compare setups on one workload', load: async () => (await import('./simulate.js')).registerSimulate },
  { name: 'trace', summary: 'convert, validate and measure trace files', load: async () => (await import('./trace.js')).registerTrace },
  { name: 'sweep', summary: 'run a grid of simulate or replay configurations on worker threads', load: async () => (await import('./sweep.js')).registerSweep },
  { name: 'worker', summary: 'run sweep points from a BullMQ queue on Redis (kvflow sweep --queue)', load: async () => (await import('./worker.js')).registerWorker },
  { name: 'engine', summary: 'OpenAI-compatible engine emulator with a real cache and policy inside', load: async () => (await import('./engine.js')).registerEngine },
  { name: 'gateway', summary: 'OpenAI-compatible workflow-aware gateway: prefix-aware routing, STE pushed upstream', load: async () => (await import('./gateway.js')).registerGateway },
  { name: 'emulate', summary: 'concurrent workflows as real HTTP traffic against a gateway or engine', load: async () => (await import('./emulate.js')).registerEmulate },
  { name: 'doctor', summary: 'what kvflow can use here: tensor backend, devices, native addon, bandwidth', load: async () => (await import('./doctor.js')).registerDoctor },
  { name: 'calibrate', summary: 'measure the host link or fit the cost model to measured iterations', load: async () => (await import('./calibrate.js')).registerCalibrate },
  { name: 'demo', summary: 'the paper headline on a bundled workload: replay table, simulation table, report.html', load: async () => (await import('./demo.js')).registerDemo },
];

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

/** Parses `argv` (node, script, then the arguments; `--debug` already taken out) and runs the command it names. */
export async function runProgram(argv: readonly string[]): Promise<void> {
  const program = new Command('kvflow')
    .description('workflow-aware KV prefix caching for LLM serving: replay traces, simulate serving setups, compare policies')
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    // One error style for every command: commander's own messages ("error: unknown option ...", with its
    // "Did you mean ...?") read `kvflow: ...` like kvflow's. Sub-commands inherit this output setting.
    .configureOutput({ outputError: (text, write) => write(kvflowStyle(text)) })
    .exitOverride();

  const invoked = invokedCommand(argv.slice(2));
  if (invoked === undefined && argv.length <= 2) {
    process.stderr.write(shortUsage());
    process.exit(2);
  }
  for (const command of COMMANDS) {
    if (command.name === invoked) {
      (await command.load())(program);
      program.commands.at(-1)!.summary(command.summary);
    } else {
      // Listed in help and known to commander's "did you mean", but never run: the invoked one is loaded.
      program.command(command.name).summary(command.summary);
    }
  }
  await rejectUnknownOptions(program, argv.slice(2));
  await program.parseAsync([...argv]);
}

/** Commander's `error: unknown option '--x'\n(Did you mean --y?)` as one line in kvflow's style. */
function kvflowStyle(text: string): string {
  return text.replace(/^error: /gm, 'kvflow: ').replace(/\n\(Did you mean (.*)\?\)/g, ' (did you mean $1?)');
}

/**
 * Commander checks required options before unknown ones, so `--trac` would be answered "required option
 * --trace not specified", and `kvflow trace stast` "too many arguments". Unknown flags and sub-commands are
 * reported first, in commander's words and with its "did you mean".
 */
async function rejectUnknownOptions(root: Command, args: readonly string[]): Promise<void> {
  let command = root;
  let justEntered = false;
  for (const arg of args) {
    if (arg === '--') return;
    if (!arg.startsWith('-') || /^-\d/.test(arg)) {
      const sub = command.commands.find((candidate) => candidate.name() === arg || candidate.aliases().includes(arg));
      if (sub) {
        command = sub;
        justEntered = true;
        continue;
      }
      if (justEntered && command !== root && command.commands.length > 0) {
        const names = command.commands.map((candidate) => candidate.name());
        // Loaded only here: `kvflow --help` and valid command lines load no library but commander.
        const nearest = (await import('../did-you-mean.js')).nearestName(arg, names);
        command.error(`error: unknown command '${arg}' for 'kvflow ${command.name()}'${nearest ? ` (did you mean ${nearest}?)` : ` (accepted: ${names.join(', ')})`}`, {
          code: 'commander.unknownCommand',
          exitCode: 2,
        });
      }
    } else {
      const flag = arg.startsWith('--') ? arg.split('=')[0]! : arg.slice(0, 2);
      if (!knowsFlag(command, flag)) (command as unknown as { unknownOption(flag: string): never }).unknownOption(flag);
    }
    justEntered = false;
  }
}

function knowsFlag(command: Command, flag: string): boolean {
  for (let at: Command | null = command; at; at = at.parent) {
    if (flag === '--help' || flag === '-h' || at.options.some((option) => option.long === flag || option.short === flag)) return true;
  }
  return false;
}

/** The command the arguments name (`kvflow help <command>` included), before any option is parsed. */
function invokedCommand(args: readonly string[]): string | undefined {
  const [first, second] = args.filter((arg) => !arg.startsWith('-'));
  return first === 'help' ? second : first;
}

/** What a bare `kvflow` prints: the commands in one line each, not the whole help. */
function shortUsage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `usage: kvflow <command> [options]   (kvflow <command> --help for its flags)\n\n${lines.join('\n')}\n`;
}
