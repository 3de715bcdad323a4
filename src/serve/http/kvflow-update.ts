/**
 * KVFlow's STE wire format (`POST /v1/update`, as its SScheduler sends it to the KVFlow SGLang fork):
 * `{"agent_data": {agent: steps}, "timestep_data": {steps: [agents]}, "timestep_cnt": n}`. Each update is
 * a full snapshot: agents left out have no known STE.
 */
import type { SteUpdate } from './openai-schema.js';

export interface SteUpdateBody {
  agent_data: Record<string, number | null>;
  timestep_data?: Record<string, string[]>;
  timestep_cnt: number;
  /** kvflow's extension: only the keys given changed (null: no longer known); others keep their value. */
  partial?: true;
}

/** The body announcing `snapshot` as update number `count`. Keys are sorted, so equal snapshots are equal bytes. */
export function steUpdateBody(snapshot: ReadonlyMap<string, number>, count: number): SteUpdateBody {
  const agents = [...snapshot.keys()].sort();
  const agentData: Record<string, number> = {};
  const byStep = new Map<number, string[]>();
  for (const agent of agents) {
    const ste = snapshot.get(agent)!;
    agentData[agent] = ste;
    const list = byStep.get(ste) ?? [];
    list.push(agent);
    byStep.set(ste, list);
  }
  const timestepData: Record<string, string[]> = {};
  for (const ste of [...byStep.keys()].sort((a, b) => a - b)) timestepData[String(ste)] = byStep.get(ste)!;
  return { agent_data: agentData, timestep_data: timestepData, timestep_cnt: count };
}

/** A partial update: the changed keys only, null for keys no longer known. Keys sorted for stable bytes. */
export function steDiffBody(changes: ReadonlyMap<string, number | undefined>, count: number): SteUpdateBody {
  const agentData: Record<string, number | null> = {};
  for (const key of [...changes.keys()].sort()) agentData[key] = changes.get(key) ?? null;
  return { agent_data: agentData, timestep_cnt: count, partial: true };
}

/** The changes a partial update carries (null: no longer known). */
export function changesOfUpdate(update: Pick<SteUpdate, 'agent_data'>): Map<string, number | undefined> {
  const changes = new Map<string, number | undefined>();
  for (const [agent, ste] of Object.entries(update.agent_data ?? {})) changes.set(agent, ste ?? undefined);
  return changes;
}

/** The STE snapshot an update carries (`agent_data`, else `timestep_data` inverted; null values: unknown). */
export function snapshotOfUpdate(update: Pick<SteUpdate, 'agent_data' | 'timestep_data'>): Map<string, number> {
  const snapshot = new Map<string, number>();
  if (update.agent_data) {
    for (const [agent, ste] of Object.entries(update.agent_data)) if (ste !== null) snapshot.set(agent, ste);
    return snapshot;
  }
  for (const [step, agents] of Object.entries(update.timestep_data ?? {})) {
    const ste = Number(step);
    if (!Number.isFinite(ste) || ste < 0) continue;
    for (const agent of agents) snapshot.set(agent, Math.min(ste, snapshot.get(agent) ?? Infinity));
  }
  return snapshot;
}
