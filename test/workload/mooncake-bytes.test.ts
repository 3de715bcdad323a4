import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLineChunks, type Line } from '../../src/workload/lines.js';
import { MooncakeLineParser } from '../../src/workload/mooncake.js';
import { readTrace } from '../../src/workload/trace.js';
import { requireTrace } from '../helpers/requirements.js';
import { runs } from '../helpers/runs.js';

const MOONCAKE = requireTrace('mooncake_conversation_trace.jsonl');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kvflow-mooncake-bytes-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** What a parser makes of a line: the request, or the message of what it throws. */
type Outcome = { request: unknown } | { error: string };

function outcome(read: () => unknown): Outcome {
  try {
    return { request: read() };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Each line through the byte path (falling back to `parse` as the trace reader does) and through `parse` alone. */
function bothWays(texts: string[]): { fast: Outcome[]; json: Outcome[]; scanned: number } {
  const fast = new MooncakeLineParser('f.jsonl');
  const json = new MooncakeLineParser('f.jsonl');
  let scanned = 0;
  const results = { fast: [] as Outcome[], json: [] as Outcome[], scanned: 0 };
  texts.forEach((text, i) => {
    const line: Line = { line: i + 1, text };
    const bytes = Buffer.from(`#${text}#`);
    results.fast.push(
      outcome(() => {
        const request = fast.parseBytes(bytes, 1, bytes.length - 1, line.line);
        if (request !== null) scanned++;
        return request ?? fast.parse(line);
      }),
    );
    results.json.push(outcome(() => json.parse(line)));
  });
  results.scanned = scanned;
  return results;
}

const space = fc.constantFrom('', '', '', ' ', '  ', '\t', '\r', ' \t');
/** Mostly plain integers, sometimes JSON that means the same number or something else entirely. */
const integerText = fc.oneof(
  { weight: 20, arbitrary: fc.nat({ max: 4000 }).map(String) },
  { weight: 2, arbitrary: fc.constantFrom('0', '512', '999999999999999', '1000000000000000', '9007199254740993', '2147483648') },
  { weight: 1, arbitrary: fc.constantFrom('-1', '-0', '1.0', '1.5', '1e3', '1E2', '01', '00', '"5"', 'null', 'true', '[]', '{}', '') },
);

const mooncakeText = fc
  .record({
    values: fc.tuple(integerText, integerText, integerText),
    ids: fc.array(integerText, { maxLength: 6 }),
    consistent: fc.boolean(), // input_length matching the number of ids, so that lines get through
    spaces: fc.array(space, { minLength: 24, maxLength: 24 }),
    keys: fc.oneof(
      { weight: 10, arbitrary: fc.constant(['timestamp', 'input_length', 'output_length', 'hash_ids']) },
      { weight: 1, arbitrary: fc.constantFrom(['input_length', 'timestamp', 'output_length', 'hash_ids'], ['timestamp', 'input_lengt', 'output_length', 'hash_ids'], ['timestamp', 'input_length', 'output_length', 'hash_ids', 'extra'], ['timestamp', 'timestamp', 'input_length', 'output_length', 'hash_ids'], ['timest\\u0061mp', 'input_length', 'output_length', 'hash_ids']) },
    ),
    tail: fc.constantFrom('', '', '', '', '', '', ' ', 'x', ',', '}', '\t '),
    cut: fc.oneof({ weight: 10, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat() }), // a line cut short
  })
  .map(({ values, ids, consistent, spaces, keys, tail, cut }) => {
    if (consistent && ids.length > 0) values[1] = String(ids.length * 512 - (values[2]?.length ?? 0));
    let s = 0;
    const sp = () => spaces[s++ % spaces.length]!;
    const value = (key: string, k: number) => (key.startsWith('hash') ? `[${sp()}${ids.join(`${sp()},${sp()}`)}${sp()}]` : (values[k % 3] ?? '0'));
    const fields = keys.map((key, k) => `${sp()}"${key}"${sp()}:${sp()}${value(key, k)}${sp()}`);
    const text = `${sp()}{${fields.join(',')}}${sp()}${tail}`;
    return cut === null ? text : text.slice(0, cut % (text.length + 1));
  });

describe('Mooncake lines read from bytes', () => {
  it('give the same requests and the same errors as JSON.parse and the schema, line by line', () => {
    let scanned = 0;
    let lines = 0;
    fc.assert(
      fc.property(fc.array(mooncakeText, { minLength: 1, maxLength: 6 }), (texts) => {
        const { fast, json, scanned: n } = bothWays(texts);
        expect(fast).toEqual(json);
        scanned += n;
        lines += texts.length;
      }),
      { numRuns: runs(2000) },
    );
    // The fast path took a real share of the lines (the rest exercised the fall-back).
    expect(scanned).toBeGreaterThan(lines / 20);
  });

  it('give the same on lines of the published spacing, whole or with one byte changed, added or dropped', () => {
    // The scanner's literal path (one space after each ':' and ','): its subset of lines and every way out of it.
    const published = fc
      .record({
        values: fc.tuple(integerText, integerText, integerText),
        ids: fc.array(integerText, { minLength: 1, maxLength: 6 }),
        consistent: fc.boolean(),
        edit: fc.option(fc.record({ at: fc.nat(), kind: fc.constantFrom('set', 'insert', 'drop'), byte: fc.constantFrom(' ', '\t', ',', ']', '}', '0', '7', '.', '"', 'e', '-') }), { freq: 2 }),
      })
      .map(({ values, ids, consistent, edit }) => {
        if (consistent) values[1] = String(ids.length * 512 - 1);
        const text = `{"timestamp": ${values[0]}, "input_length": ${values[1]}, "output_length": ${values[2]}, "hash_ids": [${ids.join(', ')}]}`;
        if (edit === null) return text;
        const at = edit.at % (text.length + 1);
        return text.slice(0, at) + (edit.kind === 'drop' ? '' : edit.byte) + text.slice(edit.kind === 'set' || edit.kind === 'drop' ? at + 1 : at);
      });
    let scanned = 0;
    let lines = 0;
    fc.assert(
      fc.property(fc.array(published, { minLength: 1, maxLength: 6 }), (texts) => {
        const { fast, json, scanned: n } = bothWays(texts);
        expect(fast).toEqual(json);
        scanned += n;
        lines += texts.length;
      }),
      { numRuns: runs(2000) },
    );
    expect(scanned).toBeGreaterThan(lines / 10);
  });

  it('take the published shape: every line of the real trace is read from bytes, to the same requests', async () => {
    if (MOONCAKE === undefined) return;
    const texts = (await readFile(MOONCAKE, 'latin1')).split('\n').filter((t) => t !== '');
    const { fast, json, scanned } = bothWays(texts.slice(0, 2000));
    expect(scanned).toBe(2000);
    expect(fast).toEqual(json);
  });

  it('give each line its own ids and the keys of a request literal, in its order', () => {
    const parser = new MooncakeLineParser('f.jsonl');
    const texts = ['{"timestamp": 1500, "input_length": 1024, "output_length": 3, "hash_ids": [4, 5]}', '{"timestamp": 2000, "input_length": 10, "output_length": 0, "hash_ids": [9]}'];
    const requests = texts.map((text, i) => parser.parseBytes(Buffer.from(text), 0, text.length, i + 1));
    expect(JSON.stringify(requests)).toBe(
      '[{"id":"mc-1","t":1.5,"blocks":[4,5],"blockSize":512,"inputLength":1024,"outputLength":3},' +
        '{"id":"mc-2","t":2,"blocks":[9],"blockSize":512,"inputLength":10,"outputLength":0}]',
    );
    expect(requests[0]!.blocks).not.toBe(requests[1]!.blocks);
  });

  it('keeps the fall-back error text for an odd line in a file, with file and line', async () => {
    const path = join(dir, 'odd.jsonl');
    await writeFile(path, '{"timestamp": 5, "input_length": 10, "output_length": 1, "hash_ids": [7]}\n\n{"timestamp": 5, "input_length": 0, "output_length": 1, "hash_ids": [7]}\n');
    await expect(readTrace(path)).rejects.toThrow(`${path}:3: input_length: expected an integer >= 1, got 0`);
  });
});

describe('line chunks', () => {
  it('give each line the same text decoded alone as decoded with its chunk, any bytes', async () => {
    const byte = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(0x61, 0x20, 0x0a, 0x0d, 0x09, 0x7b) },
      { weight: 2, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
      { weight: 1, arbitrary: fc.constantFrom(0xef, 0xbb, 0xbf, 0xc3, 0xa9) },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }).chain((a) => fc.array(byte, { minLength: a.length, maxLength: a.length })), async (bytes) => {
        const path = join(dir, 'bytes.txt');
        await writeFile(path, Buffer.from(bytes));
        for await (const chunk of readLineChunks(path)) {
          const alone = Array.from({ length: chunk.count }, (_, i) => chunk.line(i));
          expect(alone).toEqual(chunk.lines());
        }
      }),
      { numRuns: runs(300) },
    );
  });
});
