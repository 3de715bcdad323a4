import type { ReplayReport } from '../replay/replay-suite.js';
import { count, formatTokenCount, percent, renderTable } from './table.js';

/** The terminal view of a replay: one row per (capacity, policy), with the gap to Belady where known. */
export function renderReplayTable(report: ReplayReport): string {
  const { trace, results } = report;
  const header =
    `${trace.path}: ${count(trace.requests)} requests, ${count(trace.inputTokens)} input tokens, ` +
    `${count(trace.pages)} page references` +
    (trace.sessionsStart ? `, sessions started ${trace.sessionsStart}` : '');
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
