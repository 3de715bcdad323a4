/**
 * `kvflow replay` reads its usual command lines without commander (src/cli/fast-flags.ts, plain-command.ts).
 * Whenever that reader accepts a line, commander, given the same line, must accept it too and hand the
 * command the same flags object: same keys in the same order, same values, same defaults. Every other
 * line is left to commander, so its messages and exit codes cannot change.
 */
import { Command } from 'commander';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPLAY_FIELDS } from '../../src/config/replay-fields.js';
import { parsePlainFlags, type FlagOption } from '../../src/cli/fast-flags.js';
import { registerReplay } from '../../src/cli/replay.js';
import { REPLAY_OUTPUT_OPTIONS } from '../../src/cli/replay-command.js';
import { runs } from '../helpers/runs.js';

const OPTIONS: FlagOption[] = [...Object.values(REPLAY_FIELDS), ...REPLAY_OUTPUT_OPTIONS];

/** What commander hands `kvflow replay`'s action for `args`, or undefined when it rejects them. */
async function commanderFlags(args: readonly string[]): Promise<Record<string, unknown> | undefined> {
  const silent = { writeErr: () => {}, writeOut: () => {} };
  const program = new Command().exitOverride().configureOutput(silent);
  registerReplay(program);
  let flags: Record<string, unknown> | undefined;
  program.commands[0]!.exitOverride()
    .configureOutput(silent)
    .action((parsed: Record<string, unknown>) => {
      flags = parsed;
    });
  try {
    await program.parseAsync(['replay', ...args], { from: 'user' });
  } catch {
    return undefined;
  }
  return flags;
}

const FLAGS = [
  '--trace', '--format', '--block-size', '--capacity', '--policy', '--workflow', '--graph', '--skip-invalid', '--tokenizer',
  '--sessions-start', '--seed', '--explain', '--json', '--report',
  // Not replay's, or not in the plain shape: commander's to read.
  '--help', '-h', '--trac', '--no-json', '--version', '-c',
];
const VALUES = [
  't.jsonl', '1M', '64k,inf', '1M,1M', '1X', 'lru', 'lru,ste', 'lfx', 'mooncake', 'auto', 'bogus', '32', '0', '-1', '7', '1.5',
  'learned', 'declared', 'poisson:2', 'nope:1', 'cl100k_base', '', 'inf', 'r.html', '--json', 'replay',
];

/** One command-line item: a flag, a flag and its value, `--flag=value`, or a stray value. */
const item = fc.oneof(
  fc.constantFrom(...FLAGS).map((flag) => [flag]),
  fc.tuple(fc.constantFrom(...FLAGS), fc.constantFrom(...VALUES)).map(([flag, value]) => [flag, value]),
  fc.tuple(fc.constantFrom(...FLAGS), fc.constantFrom(...VALUES)).map(([flag, value]) => [`${flag}=${value}`]),
  fc.constantFrom(...VALUES).map((value) => [value]),
);
const commandLine = fc
  .tuple(fc.boolean(), fc.array(item, { maxLength: 6 }))
  .map(([withTrace, items]) => [...(withTrace ? ['--trace', 't.jsonl'] : []), ...items.flat()]);

describe('replay flags read without commander', () => {
  it('reads the usual line, and gives exactly what commander gives', async () => {
    const args = ['--trace', 't.jsonl', '--capacity', '1M', '--policy', 'lru', '--json'];
    const plain = parsePlainFlags(args, OPTIONS);
    expect(plain).toBeDefined();
    expect(Object.keys(plain!)).toEqual(Object.keys((await commanderFlags(args))!));
    expect(plain).toStrictEqual(await commanderFlags(args));
    expect(plain).toMatchObject({ trace: 't.jsonl', capacity: [2 ** 20], policy: ['lru'], json: true, format: 'auto', seed: 1 });
  });

  it('leaves to commander what it would word: help, unknown, repeated or short flags, bad or missing values', () => {
    const lines = [
      [],
      ['--trace', 't.jsonl', '--help'],
      ['--trace', 't.jsonl', '--trac', 'x'],
      ['--trace', 't.jsonl', '--json', '--json'],
      ['--trace', 't.jsonl', '-h'],
      ['--trace', 't.jsonl', '--capacity', '1X'],
      ['--trace', 't.jsonl', '--capacity'],
      ['--trace', 't.jsonl', '--seed', '-1'],
      ['--trace', 't.jsonl', '--policy', '--json'],
      ['--trace', 't.jsonl', '--json=yes'],
      ['--trace', 't.jsonl', 'extra'],
      ['--capacity', '1M'],
    ];
    for (const line of lines) expect(parsePlainFlags(line, OPTIONS), line.join(' ')).toBeUndefined();
  });

  it('never accepts a line commander rejects, and never reads one differently', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(commandLine, async (args) => {
        const plain = parsePlainFlags(args, OPTIONS);
        if (plain === undefined) return;
        accepted++;
        const commander = await commanderFlags(args);
        expect(commander, args.join(' ')).toBeDefined();
        expect(Object.keys(plain), args.join(' ')).toEqual(Object.keys(commander!));
        expect(isDeepStrictEqual(plain, commander), args.join(' ')).toBe(true);
      }),
      { numRuns: runs(400) },
    );
    // The property is not vacuous: a good share of the generated lines take the plain path.
    expect(accepted).toBeGreaterThan(runs(400) / 20);
  });
});
