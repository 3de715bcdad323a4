/**
 * Example eviction policy: protect the fixed prompts of agents a workflow spec marks as hot.
 *
 * The spec (a kvflow workflow spec, e.g. workloads/sequential-10.json) lists its hot agents in its
 * `description` after "hot:", e.g. `"description": "... hot: a0, a3"`; set KVFLOW_HOT_SPEC to its path.
 * Without it, KVFLOW_HOT_AGENTS (a comma list) names them; without either, no agent is hot and this is LRU.
 * Pages of a hot agent's fixed prompt get priority 1, every other page 0: hot pages are evicted last,
 * and within each group the least recently used page goes first.
 *
 *   KVFLOW_HOT_AGENTS=a0,a1 kvflow simulate --workload workloads/sequential-10.json \
 *       --policy ./examples/policies/hot-agents.js
 *
 * The default export is a factory function (a class works too): it reads the configuration once, when
 * kvflow loads the module, and returns a fresh policy per cache. It uses the optional `notePrompt` and
 * `forget` members of EvictionPolicy (src/cache/policy.ts, docs/policies.md).
 */
import { readFileSync } from 'node:fs';

/** Agent names from the spec's description ("hot: a, b"), or from KVFLOW_HOT_AGENTS. */
function hotAgents() {
  const specPath = process.env.KVFLOW_HOT_SPEC;
  if (specPath) {
    const spec = JSON.parse(readFileSync(specPath, 'utf8'));
    const match = /hot:\s*([^.;]*)/.exec(spec.description ?? '');
    return new Set(match ? match[1].split(',').map((name) => name.trim()).filter(Boolean) : []);
  }
  return new Set((process.env.KVFLOW_HOT_AGENTS ?? '').split(',').map((name) => name.trim()).filter(Boolean));
}

const HOT = hotAgents();

/** The agent a key names: STE keys of private agents read `instance/agent`. */
function agentOf(prompt, agentKey) {
  const key = prompt.agent ?? agentKey;
  if (key === undefined) return undefined;
  const slash = key.lastIndexOf('/');
  return slash < 0 ? key : key.slice(slash + 1);
}

/** @returns {import('kvflow').EvictionPolicy} */
export default function hotAgentsPolicy() {
  const hotPages = new Set();
  /** @type {import('kvflow').PriorityOwner | undefined} */
  let owner;
  return {
    name: 'hot-agents',
    bind(cacheOwner) {
      owner = cacheOwner;
    },
    priority(page) {
      return hotPages.has(page) ? 1 : 0;
    },
    notePrompt(prompt, agentKey, pages, from, to) {
      const agent = agentOf(prompt, agentKey);
      if (agent === undefined || !HOT.has(agent)) return;
      const end = Math.min(to, prompt.fixedBlocks ?? 0);
      for (let i = from; i < end; i++) {
        if (!hotPages.has(pages[i])) {
          hotPages.add(pages[i]);
          owner?.reprioritize(pages[i]);
        }
      }
    },
    forget(page) {
      hotPages.delete(page);
    },
  };
}
