import type { ReplayReport } from '../replay/replay-suite.js';
import { evictionsSpec, hitRateCapacitySpec, identicalPolicies, type CapacityRow } from './chart-capacity.js';
import { renderSvg } from './chart-render.js';
import { escapeHtml, renderPage, section, simpleTableHtml } from './page.js';
import { count, formatTokenCount, percent } from './table.js';

/**
 * `kvflow replay --report FILE.html`: hit rate against capacity per policy with the LRU-to-Belady gap
 * shaded, evictions against capacity, and a table with how much of that gap each policy closes.
 */
export async function renderReplayHtml(report: ReplayReport, config: Record<string, unknown> = {}): Promise<string> {
  const rows: CapacityRow[] = report.results.map((r) => ({
    group: '',
    capacityTokens: r.capacityTokens,
    policy: r.policy,
    hitRate: r.hitRate,
    evictions: r.evictions,
  }));
  const { trace } = report;
  const charts = [
    {
      id: 'hit-rate-capacity',
      title: 'Hit rate against cache capacity',
      caption:
        'Share of prompt tokens found in the GPU cache, per eviction policy and capacity. The shaded band is the gap ' +
        'between LRU and Belady (the offline optimum): a policy inside it closes part of that gap.',
      svg: await renderSvg(hitRateCapacitySpec(rows), 'chart-hit-rate-capacity'),
    },
    {
      id: 'evictions',
      title: 'Evictions against cache capacity',
      caption: 'Pages evicted from the GPU cache during the replay, per policy and capacity.',
      svg: await renderSvg(evictionsSpec(rows), 'chart-evictions'),
    },
  ];
  return renderPage({
    title: `kvflow replay: ${trace.path}`,
    facts: [
      ['Trace', trace.path],
      ['Requests', count(trace.requests)],
      ['Input tokens', count(trace.inputTokens)],
      ['Page references', count(trace.pages)],
      ['Policies', [...new Set(report.results.map((r) => r.policy))].join(', ')],
    ],
    summary: [section('Summary', identicalNoteHtml(identicalPolicies(rows)) + replaySummaryHtml(report), 'summary')],
    charts,
    config: { trace, ...config },
  });
}

/** Per capacity: each policy's hit rate, and the share of the LRU-to-Belady gap it closes. */
function replaySummaryHtml(report: ReplayReport): string {
  const policies = [...new Set(report.results.map((r) => r.policy))];
  const capacities = [...new Set(report.results.map((r) => r.capacityTokens))];
  const closers = policies.filter((p) => p !== 'lru' && p !== 'belady');
  const hasGap = policies.includes('lru') && policies.includes('belady');
  const head = [
    'Capacity (tokens)',
    ...policies.map((p) => `${p} hit rate`),
    ...(hasGap ? closers.map((p) => `${p}: share of LRU→Belady gap closed`) : []),
    ...policies.map((p) => `${p} evictions`),
  ];
  const rows = capacities.map((capacity) => {
    const at = (policy: string) => report.results.find((r) => r.capacityTokens === capacity && r.policy === policy);
    const rates = policies.map((p) => at(p)?.hitRate);
    const lru = at('lru')?.hitRate;
    const belady = at('belady')?.hitRate;
    const closed = closers.map((p) => {
      const rate = at(p)?.hitRate;
      if (!hasGap || rate === undefined || lru === undefined || belady === undefined) return '—';
      return belady - lru > 1e-12 ? percent((rate - lru) / (belady - lru), 0) : 'no gap';
    });
    const online = rates.filter((r, i): r is number => r !== undefined && policies[i] !== 'belady');
    const bestRate = Math.max(...online);
    const best = new Set(rates.flatMap((r, i) => (online.length > 1 && r === bestRate && policies[i] !== 'belady' ? [i + 1] : [])));
    return {
      cells: [
        formatTokenCount(capacity),
        ...rates.map((r) => (r === undefined ? '—' : percent(r))),
        ...(hasGap ? closed : []),
        ...policies.map((p) => {
          const e = at(p)?.evictions;
          return e === undefined ? '—' : count(e);
        }),
      ],
      best,
    };
  });
  return [
    simpleTableHtml('Hit rate per capacity and policy', head, rows),
    `<p class="note">${escapeHtml(
      'Hit rate: share of prompt tokens found in the cache (DESIGN.md section 4; docs/semantics.md). ' +
        'Belady evicts the page used furthest in the future: no online policy can beat it. ' +
        'Highlighted: the best online policy at that capacity.',
    )}</p>`,
  ].join('\n');
}

/** Names policies whose results equal an earlier one's (say, ste without a step graph behaves as lru). */
export function identicalNoteHtml(sameAs: ReadonlyMap<string, string>, what = 'policies'): string {
  if (sameAs.size === 0) return '';
  const groups = new Map<string, string[]>();
  for (const [member, first] of sameAs) groups.set(first, [...(groups.get(first) ?? [first]), member]);
  const text = [...groups.values()].map((members) => `${members.join(' and ')} gave identical results`).join('; ');
  return `<p class="identical">${escapeHtml(`${text}: their lines coincide, so the later ${what} are drawn dashed over the first.`)}</p>\n`;
}
