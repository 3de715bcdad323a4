/**
 * `npm run soak [-- --minutes 10 --rate 50 --kill-every 120 --max-in-flight 32 --max-queued 32 --queue-timeout 2000 --json]`: a gateway and an engine under mixed
 * load with faults injected (bench/robustness/soak-harness.ts), and what happened, minute by minute.
 * Exit 0 when nothing was lost, every outcome is explained, locks are back to zero and the gateway's
 * heap after a full GC does not grow with the requests (bench/robustness/soak-memory.ts); 1 otherwise or
 * when the soak itself failed (a server that would not start, a deadline passed). `--plant-leak BYTES`
 * keeps that many bytes in the gateway per request it receives, to see the memory verdict catch a leak. The servers never outlive it, whatever happens (soak-children.ts).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { OUTCOMES, runSoak, type SoakReport } from './soak-harness.js';
import { ServerProcesses } from './soak-children.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '50' },
    'kill-every': { type: 'string', default: '120' },
    json: { type: 'boolean', default: false },
    'plant-leak': { type: 'string', default: '0' },
    // Sized to what this 2-core machine serves (about 50 req/s with both servers and the harness on it):
    // the servers' own defaults (256 per upstream, 2 x --max-running) shed nothing before clients time out.
    'max-in-flight': { type: 'string', default: '32' },
    'max-queued': { type: 'string', default: '32' },
    'queue-timeout': { type: 'string', default: '2000' },
  },
});
/** Load shedding flags passed to both servers. */
const admission = Object.fromEntries(
  (
    [
      ['maxInFlight', 'max-in-flight', 1],
      ['maxQueued', 'max-queued', 0],
      ['queueTimeoutMs', 'queue-timeout', 1],
    ] as const
  ).flatMap(([key, flag, min]) => {
    const text = values[flag];
    if (text === undefined) return [];
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min || value > 2 ** 31 - 1) {
      process.stderr.write(`kvflow soak: --${flag} takes an integer >= ${min}\n`);
      process.exit(2);
    }
    return [[key, value]];
  }),
);
const minutes = Number(values.minutes);
const rate = Number(values.rate);
const killEvery = Number(values['kill-every']);
const plantLeakBytes = Number(values['plant-leak']);
if (!Number.isSafeInteger(plantLeakBytes) || plantLeakBytes < 0 || plantLeakBytes > 2 ** 20) {
  process.stderr.write('kvflow soak: --plant-leak takes bytes per request, an integer in [0, 1048576]\n');
  process.exit(2);
}
if (!(minutes > 0 && minutes <= 24 * 60) || !(rate > 0 && rate <= 10_000) || !(killEvery >= 0)) {
  process.stderr.write('kvflow soak: --minutes takes a number in (0, 1440], --rate one in (0, 10000], --kill-every seconds >= 0 (0: never)\n');
  process.exit(2);
}
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const processes = new ServerProcesses(`${repo}dist/src/cli/main.js`, repo);
processes.installExitHandlers('kvflow soak');
const log = (line: string) => process.stderr.write(`kvflow soak: ${new Date().toISOString().slice(11, 19)} ${line}\n`);

// The whole soak, restarts and draining included, has a deadline: a stuck step cannot keep it (and its servers) alive.
const deadlineMs = minutes * 60_000 + 20 * 60_000;
const watchdog = setTimeout(() => {
  log(`not finished ${deadlineMs / 60_000} minutes after it began: stopping the servers`);
  void processes.stopAll().finally(() => process.exit(1));
}, deadlineMs);
watchdog.unref();

let report: SoakReport;
try {
  report = await runSoak({
    seconds: minutes * 60,
    rate,
    killEverySeconds: killEvery,
    admission,
    cli: `${repo}dist/src/cli/main.js`,
    cwd: repo,
    processes,
    log,
    memoryProbe: `${repo}bench/robustness/soak-memory-probe.mjs`,
    plantLeakBytes,
  });
} catch (error) {
  log(`failed: ${(error as Error).message}`);
  await processes.stopAll();
  process.exit(1);
}
clearTimeout(watchdog);
processes.removeExitHandlers();

if (values.json) console.log(JSON.stringify(report, null, 2));
else {
  const r = report;
  console.log(
    `kvflow soak: ${minutes} min at ${rate} req/s (both servers --max-in-flight ${admission.maxInFlight} --max-queued ${admission.maxQueued} --queue-timeout ${admission.queueTimeoutMs}): ${r.sent} sent, ${r.settled} settled, ${r.hanging} hanging, ${r.unexplained} unexplained` +
      (r.behindSchedule > 0 ? `, ${r.behindSchedule} sends skipped (harness behind schedule)` : ''),
  );
  console.log(`engine killed ${r.engineKills}x; back in routing after ${r.outages.map((o) => `${o.routedSeconds} s`).join(', ') || '-'}`);
  console.log(`engine out of routing by the gateway's health checks outside the kills: ${r.outOfRoutingOutsideKills.times}x, ${r.outOfRoutingOutsideKills.seconds} s in all`);
  console.log(`CPU seconds: gateway ${r.cpuSeconds.gateway} (${r.cpuSeconds.gatewayMsPerRequest} ms per request), engine ${r.cpuSeconds.engine}, harness ${r.cpuSeconds.harness}`);
  console.log(`slow clients cut ${r.slowClientCutSeconds.p50} s after connecting at the median, ${r.slowClientCutSeconds.p99} s at p99, ${r.slowClientCutSeconds.max} s at most`);
  console.log(`locks at end: gateway shadow ${r.locksAtEnd.gatewayShadowLockedPages}, engine running ${r.locksAtEnd.engineRunning}, engine pinned ${r.locksAtEnd.enginePinnedPages} (settled within ${r.locksAtEnd.settledWithinSeconds} s)`);
  const mem = r.memory;
  const h = mem.heap;
  console.log(
    h.judged
      ? `gateway heap after full GC, from minute ${h.fromMinute} (${h.samples} samples, ${h.requests} requests): ${h.heapMbFirst} -> ${h.heapMbLast} MB, ` +
          `${h.bytesPerRequest} B per request (95% upper ${h.bytesPerRequestUpper}, limit ${h.limitBytesPerRequest}), noise ${h.noiseMb} MB: ${h.withinLimit ? 'no leak' : 'GROWS (or too noisy to tell)'}`
      : `gateway heap not judged: ${h.samples} samples after minute ${h.fromMinute}${mem.noLeak ? ' (a run this short is not judged)' : ': FAILED'}`,
  );
  console.log(
    `  beside it, not judged: RSS ${mem.rssMbFirst} -> ${mem.rssMbLast} MB (${mem.rssSlopeMbPerMinute} MB/min), heap reserved ${mem.heapTotalMbFirst} -> ${mem.heapTotalMbLast} MB, ` +
      `heap ${mem.heapSlopeMbPerMinute} MB/min, external ${mem.externalMbFirst} -> ${mem.externalMbLast} MB (${mem.externalSlopeMbPerMinute} MB/min); longest forced GC ${mem.gcPauseMsMax} ms`,
  );
  console.log(`load average ${r.loadAverage.min}-${r.loadAverage.max}`);
  console.log('outcomes:');
  for (const [kind, count] of Object.entries(r.outcomes)) console.log(`  ${kind.padEnd(24)} ${String(count).padStart(7)}  ${OUTCOMES[kind as keyof typeof OUTCOMES] ?? 'UNEXPLAINED'}`);
  for (const example of r.unexplainedExamples) console.log(`  unexplained: ${example}`);
  console.log(`gateway counted: ${JSON.stringify(r.gatewayCounted)}`);
  console.log('minute  sent     ok  p50ms  p90ms  p99ms  gwRSS  gwHeap  enRSS  load  lagms  outcomes');
  for (const m of r.perMinute) {
    const others = Object.entries(m.outcomes).filter(([k]) => k !== 'ok');
    console.log(
      `${String(m.minute).padStart(6)} ${String(m.sent).padStart(5)} ${String(m.ok).padStart(6)} ${String(m.p50Ms).padStart(6)} ${String(m.p90Ms).padStart(6)} ${String(m.p99Ms).padStart(6)} ${String(m.gatewayRssMb).padStart(6)} ${m.gatewayHeapMb.toFixed(1).padStart(7)} ${String(m.engineRssMb).padStart(6)} ${m.loadAverage.toFixed(1).padStart(5)} ${String(m.harnessLagMs).padStart(6)}  ${others.map(([k, v]) => `${k}=${v}`).join(' ')}`,
    );
  }
  console.log(r.passed ? 'PASSED' : 'FAILED');
}
if (!report.passed) process.exitCode = 1;
