/**
 * Loaded into the soak's gateway with `node --expose-gc --import` (soak-harness.ts; plain JavaScript
 * because it runs as it is, from the source tree). Every KVFLOW_SOAK_MEMORY_EVERY_MS it runs a full
 * garbage collection and appends one JSON line to KVFLOW_SOAK_MEMORY_FILE: the time, the HTTP requests
 * received so far, the GC's duration and `process.memoryUsage()` after it. After a full GC `heapUsed` is
 * what the process still holds alive; between collections it also counts garbage (soak-memory.ts).
 *
 * KVFLOW_SOAK_PLANT_LEAK_BYTES=N keeps a new flat N-character string (N + 16 bytes of heap) for every request, forever: a planted
 * leak, to show the soak's memory verdict catches one (`npm run soak -- --plant-leak N`).
 */
import { appendFileSync } from 'node:fs';
import { subscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

const file = process.env.KVFLOW_SOAK_MEMORY_FILE;
const everyMs = Number(process.env.KVFLOW_SOAK_MEMORY_EVERY_MS ?? 15000);
const leakBytes = Number(process.env.KVFLOW_SOAK_PLANT_LEAK_BYTES ?? 0);
if (!file) throw new Error('soak-memory-probe: KVFLOW_SOAK_MEMORY_FILE is not set');
if (typeof globalThis.gc !== 'function') throw new Error('soak-memory-probe: start node with --expose-gc');
const gc = globalThis.gc;

let requests = 0;
const leaked = [];
subscribe('http.server.request.start', () => {
  requests++;
  // A flat one-byte string of exactly leakBytes characters: `padEnd` and `repeat` build rope strings whose
  // halves are shared, which kept about half the bytes asked for (526 of 1,024 per request, measured).
  if (leakBytes > 0) leaked.push(Buffer.alloc(leakBytes, `${requests}:x`).toString('latin1'));
});

setInterval(() => {
  const start = performance.now();
  gc();
  const gcMs = performance.now() - start;
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  appendFileSync(file, `${JSON.stringify({ t: Date.now(), requests, gcMs, rss, heapTotal, heapUsed, external, arrayBuffers })}\n`);
}, everyMs).unref();
