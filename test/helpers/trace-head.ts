/**
 * The first `count` requests of a trace file, read without parsing the rest: the same requests, in the
 * same order, as `(await readTrace(path)).requests.slice(0, count)`, since every format reads a request
 * from its own line(s) alone. Tests that use a prefix of a long trace load faster, which matters most
 * under mutation testing, where a test file is loaded again for every mutant.
 */
import { streamTraceBatches } from '../../src/workload/read.js';
import type { TraceRequest } from '../../src/types.js';

export async function readTraceHead(path: string, count: number): Promise<TraceRequest[]> {
  const requests: TraceRequest[] = [];
  for await (const batch of streamTraceBatches(path)) {
    for (const request of batch) {
      if (requests.length === count) return requests;
      requests.push(request);
    }
    if (requests.length === count) return requests;
  }
  return requests;
}
