/**
 * Native vs TypeScript block hashing (issue 5), both in one run on the same real prompts: the LMCache
 * agent traces tokenized (cl100k_base, as the LMCache importer does), hashed in 16-token blocks, one call per prompt as an importer makes it.
 * Three levels: the kernel alone (Int32Array in, Float64Array out), the public `hashTokenBlocks` from a
 * tokenizer's number[] (conversions included), and the whole text import (tokenize + hash). The native
 * path is kept (`NATIVE_KEPT` in src/native.ts) only if the kernel ratio is >= 1.5x.
 */
import { readFile } from 'node:fs/promises';
import { encode as encodeCl100k } from 'gpt-tokenizer/encoding/cl100k_base';
import { Bench } from 'tinybench';
import { blockCount, hashTokenBlocks, hashTokenBlocksTs, loadNative, nativeLoadError, setNativeEnabled } from '../src/native.js';
import { sharedTrace } from './paths.js';
import type { BenchLine } from './replay.js';

const BLOCK_SIZE = 16;
const KEEP_RATIO = 1.5;
const encode = (text: string) => encodeCl100k(text, { disallowedSpecial: new Set<string>() });

export async function benchNative(): Promise<BenchLine[]> {
  const texts: string[] = [];
  for (const name of ['lmcache_agent_miniswe.jsonl', 'lmcache_agent_magagent.jsonl']) {
    for (const line of (await readFile(sharedTrace(name), 'utf8')).split('\n')) {
      if (line) texts.push((JSON.parse(line) as { input: string }).input);
    }
  }
  const tokenArrays = texts.map((text) => encode(text));
  const prompts = tokenArrays.map((tokens) => Int32Array.from(tokens));
  const outs = prompts.map((tokens) => new Float64Array(blockCount(tokens.length, BLOCK_SIZE)));
  const tokens = prompts.reduce((sum, p) => sum + p.length, 0);
  const native = loadNative();

  const bench = new Bench({ time: 1500, warmupTime: 300 });
  bench.add('hash kernel ts', () => {
    for (let i = 0; i < prompts.length; i++) hashTokenBlocksTs(prompts[i]!, BLOCK_SIZE, 0, outs[i]!);
  });
  if (native) {
    bench.add('hash kernel native', () => {
      for (let i = 0; i < prompts.length; i++) native.hashTokenBlocks(prompts[i]!, BLOCK_SIZE, 0, outs[i]!);
    });
  }
  bench.add('hashTokenBlocks(number[]) ts', () => {
    setNativeEnabled(false);
    for (const t of tokenArrays) hashTokenBlocks(t, BLOCK_SIZE);
    setNativeEnabled(true);
  });
  if (native) {
    bench.add('hashTokenBlocks(number[]) native', () => {
      for (const t of tokenArrays) hashTokenBlocks(t, BLOCK_SIZE);
    });
  }
  bench.add('text import (tokenize + hash)', () => {
    for (const text of texts) hashTokenBlocks(encode(text), BLOCK_SIZE);
  });
  await bench.run();

  const mean = (name: string) => {
    const result = bench.tasks.find((task) => task.name === name)?.result;
    return result?.state === 'completed' ? result.latency.mean : undefined;
  };
  const lines: BenchLine[] = [{ name: 'prompts', value: `${prompts.length} prompts, ${(tokens / 1e6).toFixed(2)}M tokens, block size ${BLOCK_SIZE}` }];
  for (const task of bench.tasks) {
    const ms = mean(task.name);
    if (ms === undefined) continue;
    lines.push({ name: task.name, value: `${ms.toFixed(2)} ms mean, ${((tokens / (ms / 1000)) / 1e6).toFixed(0)}M tokens/s` });
  }
  const ts = mean('hash kernel ts');
  const nat = mean('hash kernel native');
  if (ts !== undefined && nat !== undefined) {
    const ratio = ts / nat;
    lines.push({ name: 'native / ts speedup', value: `${ratio.toFixed(2)}x (${ratio >= KEEP_RATIO ? 'keep native' : 'keep TypeScript'}: threshold ${KEEP_RATIO}x)` });
  } else {
    lines.push({ name: 'native / ts speedup', value: `native addon unavailable: ${nativeLoadError() ?? 'unknown'}` });
  }
  return lines;
}
