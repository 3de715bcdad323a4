import type { ReplayReport } from '../replay/replay-suite.js';
import type { ExplainGroup, ExplainRun } from '../replay/explain.js';
import { count, formatTokenCount, percent, renderTable } from './table.js';

/** The terminal view of a replay: one row per (capacity, policy), with the gap to Belady where known. */
export function renderReplayTable(report: ReplayReport): string {
  const { trace, results } = report;
  const header =
    `${trace.path}: ${count(trace.requests)} requests, ${count(trace.inputTokens)} input tokens, ` +
    `${count(trace.pages)} page references` +
    (trace.sessionsStart ? `, sessions started ${trace.sessionsStart}` : '') +
    skippedNote(trace.skippedLines);
  const rows = results.map((result) => [
    formatTokenCount(result.capacityTokens),
    result.policy,
    percent(result.hitRate),
    count(result.hitTokens),
    count(result.evictions),
    `${(result.seconds * 1000).toFixed(1)} ms`,
  ]);
  return `${header}\n${renderTable(['capacity', 'policy', 'hit rate', 'hit tokens', 'evictions', 'replay time'], rows)}`;
}

/** The terminal view of `--explain`: misses split into cold and eviction misses, the excess over Belady. */
export function renderExplainTable(runs: readonly ExplainRun[]): string {
  const top = (groups: readonly ExplainGroup[]) => {
    const worst = groups[0];
    if (!worst) return '-';
    return `${worst.name.slice(0, 16)} ${count(worst.evictionMissTokens - worst.beladyEvictionMissTokens)}`;
  };
  const rows = runs.map((run) => [
    formatTokenCount(run.capacityTokens),
    run.policy,
    percent(run.hitRate),
    count(run.coldMissTokens),
    count(run.evictionMissTokens),
    count(run.excessMissTokens),
    `${count(run.liveEvictions)} / ${count(run.deadEvictions)}`,
    top(run.sessions),
    top(run.agents),
  ]);
  const head = ['capacity', 'policy', 'hit rate', 'cold miss', 'eviction miss', 'excess over belady', 'evictions live / dead', 'worst session (excess)', 'worst agent (excess)'];
  return `misses explained (tokens; --json lists every session and agent)\n${renderTable(head, rows)}`;
}

/** `, 3 invalid lines skipped` when `--skip-invalid` left lines out (the JSON has it as `trace.skippedLines`). */
function skippedNote(skipped: number | undefined): string {
  return skipped === undefined || skipped === 0 ? '' : `, ${count(skipped)} invalid line${skipped === 1 ? '' : 's'} skipped`;
}
