/**
 * Integer ids for agent keys, as the KVFlow SGLang fork needs them. The fork dispatches prefetch per agent
 * with `int(agent_id)` and names each agent's work `lora{id}` (scheduler_output_processor_mixin.py), so a
 * key such as `planner` or `run-42/planner` would abort its prefetch loop. Ids are handed out in order of
 * first use from 0 and kept for the gateway's life, so a request's `agent_id` and the keys of every STE
 * push name the same agent. `'-1'` is the fork's own "no agent" (agent_manager.py) and never an id here.
 */

/** The fork's marker for a request that names no agent. */
export const NO_AGENT_ID = '-1';

export interface AgentIdEntry {
  key: string;
  id: number;
}

export class AgentIdTable {
  readonly #ids = new Map<string, number>();
  readonly #onAssign: ((entry: AgentIdEntry) => void) | undefined;

  /** `onAssign` hears of each new key once (the gateway logs it). */
  constructor(options: { onAssign?: (entry: AgentIdEntry) => void } = {}) {
    this.#onAssign = options.onAssign;
  }

  /** The id of `key`, assigned now if it has none. */
  idOf(key: string): number {
    let id = this.#ids.get(key);
    if (id === undefined) {
      id = this.#ids.size;
      this.#ids.set(key, id);
      this.#onAssign?.({ key, id });
    }
    return id;
  }

  /** The `agent_id` a request carries: its key's id, or `'-1'` without an agent. */
  wireId(key: string | undefined): string {
    return key === undefined ? NO_AGENT_ID : String(this.idOf(key));
  }

  /** `snapshot` with every key replaced by its id (ids assigned as needed). */
  translate(snapshot: ReadonlyMap<string, number>): Map<string, number> {
    const out = new Map<string, number>();
    for (const [key, value] of snapshot) out.set(String(this.idOf(key)), value);
    return out;
  }

  /** Every key with its id, in id order. */
  entries(): AgentIdEntry[] {
    return [...this.#ids].map(([key, id]) => ({ key, id }));
  }

  get size(): number {
    return this.#ids.size;
  }
}
