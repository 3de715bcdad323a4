/**
 * Child process of the replay bench: reading the Mooncake trace (`readTrace`: the whole file into
 * requests, file read included) in a process of its own, so nothing the bench did before (kernel runs, a
 * full collection that drops the reader's compiled code) is charged to it or helps it.
 *   cold: one read in this fresh process, what a `kvflow` command pays.
 *   warm: the reader first reads OTHER data of the same shape (WARMUP: a file of synthetic Mooncake lines),
 *         then the trace is read READS times; no collection is forced, so the garbage of earlier reads is
 *         collected while reading, as in any long-running process. Run by run with it: the reader's JSON
 *         path on the same file (lines decoded as text, JSON.parse + checks: what every line took before the
 *         byte scanner) and JSON.parse alone on the lines already in memory (the floor of any JSON reader).
 * Prints one JSON object: per read, process CPU (all threads: the collector's helpers and the compiler's
 * included), main-thread CPU (Linux; null elsewhere) and wall, in seconds.
 * Usage: node dist/bench/parse-mooncake.js TRACE cold|warm [WARMUP] [READS]
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { TraceRequest } from '../src/types.js';
import { MooncakeLineParser } from '../src/workload/mooncake.js';
import { readLineBatches } from '../src/workload/lines.js';
import { readTrace } from '../src/workload/read.js';

export interface ParseSample {
  cpu: number;
  main: number | null;
  wall: number;
}

const [path, mode, warmup, readsArg] = process.argv.slice(2) as [string, 'cold' | 'warm', string | undefined, string | undefined];

/** CPU seconds of this thread alone (the collector's and the compiler's helper threads excluded). */
function mainThreadSeconds(): number | null {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]) / 1e9;
  } catch {
    return null;
  }
}

function processSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

async function timed(body: () => unknown): Promise<ParseSample> {
  const main = mainThreadSeconds();
  const cpu = processSeconds();
  const started = performance.now();
  await body();
  const mainAfter = mainThreadSeconds();
  return { cpu: processSeconds() - cpu, main: main === null || mainAfter === null ? null : mainAfter - main, wall: (performance.now() - started) / 1000 };
}

if (mode === 'cold') {
  const read = await timed(() => readTrace(path));
  console.log(JSON.stringify({ reads: [read] }));
} else {
  const reads = Number(readsArg ?? 7);
  // The reader's JSON path (what every line took before the byte scanner): the same chunked file read, each
  // line decoded as text, JSON.parse + checks. Requests kept, as readTrace keeps them.
  const readWithJson = async (file = path) => {
    const parser = new MooncakeLineParser(file);
    const requests: TraceRequest[] = [];
    for await (const lines of readLineBatches(file)) for (const line of lines) requests.push(parser.parse(line));
    return requests;
  };
  const text = (await readFile(path, 'latin1')).split('\n').filter((line) => line !== '');
  const jsonParseOnly = () => {
    for (const line of text) JSON.parse(line);
  };
  for (let i = 0; i < 5; i++) {
    await readTrace(warmup!);
    await readWithJson(warmup);
  }
  jsonParseOnly();
  const samples = { reads: [] as ParseSample[], jsonReader: [] as ParseSample[], jsonParse: [] as ParseSample[] };
  for (let i = 0; i < reads; i++) {
    samples.reads.push(await timed(() => readTrace(path)));
    samples.jsonReader.push(await timed(() => readWithJson()));
    samples.jsonParse.push(await timed(jsonParseOnly));
  }
  console.log(JSON.stringify(samples));
}
