/**
 * An HTTP stand-in for the KVFlow SGLang fork (github.com/PanZaifeng/KVFlow at 7ef897e) that applies, to
 * what the gateway sends, the rules the fork's own code applies at run time. Each rule names the file and
 * lines it comes from. It is a contract check, not an engine: it answers completions with a fixed body.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Default `--evict-pri-level` (server_args.py:388), the fork's `hold_step`. */
const HOLD_STEP = 4;

export interface ForkViolation {
  rule: string;
  detail: string;
}

export class FakeKvflowFork {
  readonly requests: Record<string, unknown>[] = [];
  readonly updates: { agent_data: Record<string, unknown>; timestep_data: Record<string, unknown>; timestep_cnt: unknown }[] = [];
  readonly violations: ForkViolation[] = [];
  /** The fork's `update_dict_agent` (agent_manager.py:23). */
  agentData: Record<string, unknown> = {};
  /** Answers for the next `/v1/update` calls, consumed in order; then success. */
  updateAnswers: Record<string, unknown>[] = [];
  /** Agents each cache node was tagged with (radix_cache.py:662-666: `n.agents[req.agent_id]`). */
  readonly nodeAgents: unknown[] = [];
  url = '';
  #server: Server | undefined;

  async start(): Promise<this> {
    this.#server = createServer((request, response) => {
      void readJson(request).then((body) => {
        const answer = this.#handle(request.url ?? '', body);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()) ?? resolve());
  }

  #handle(path: string, body: Record<string, unknown>): unknown {
    if (path === '/health') return {}; // http_server.py: GET /health answers 200 while the server is up
    if (path === '/v1/models') return { object: 'list', data: [{ id: 'm', object: 'model' }] };
    if (path === '/v1/update') return this.#update(body);
    this.requests.push(body);
    this.#generate(body);
    return { id: 'x', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] };
  }

  /** A completion request: its agent tags the cache node, and eviction asks the node's hold priority. */
  #generate(body: Record<string, unknown>): void {
    // protocol.py:233 (completions) / :457 (chat): `agent_id: Optional[Union[List[str], str]] = None`;
    // schedule_batch.py:438/621 keep it on the Req, None when absent.
    const agentId = body.agent_id === undefined ? null : body.agent_id;
    if (agentId !== null && typeof agentId !== 'string') {
      this.violations.push({ rule: 'protocol.py:233/457 agent_id is a string', detail: JSON.stringify(agentId) });
    }
    this.nodeAgents.push(agentId);
    // hiradix_cache.py:268-293 with --enable-holding: evict() -> _evict_helper() ->
    // agent_manager.get_node_hold_priority(leaf) (agent_manager.py:55-65) -> get_agent_hold_priority for
    // every agent that tagged the leaf, on the allocation path, with nothing to catch what it raises.
    try {
      this.#holdPriority(agentId);
    } catch (error) {
      this.violations.push({ rule: 'agent_manager.py:31-33 get_agent_hold_priority(None) raises', detail: (error as Error).message });
    }
  }

  /** agent_manager.py:31-43, line for line. */
  #holdPriority(agentId: unknown): number {
    if (agentId === null) throw new Error('ValueError: agent_id cannot be None');
    if (agentId === '-1') return HOLD_STEP + 2; // :34-36, the fork's "no agent"
    if (!Object.hasOwn(this.agentData, String(agentId))) return HOLD_STEP + 1; // :37-39
    const value = this.agentData[String(agentId)];
    if (value === null) return HOLD_STEP + 2;
    return Math.min(HOLD_STEP + 1, Number(value));
  }

  #update(body: Record<string, unknown>): unknown {
    // io_struct.py:1228-1232: agent_data Dict[str, Any], timestep_data Dict[int, List[str]], timestep_cnt int.
    const agentData = body.agent_data as Record<string, unknown>;
    const timestepData = body.timestep_data as Record<string, unknown>;
    this.updates.push({ agent_data: agentData, timestep_data: timestepData, timestep_cnt: body.timestep_cnt });
    if (typeof agentData !== 'object' || typeof timestepData !== 'object' || !Number.isInteger(body.timestep_cnt)) {
      this.violations.push({ rule: 'io_struct.py:1228-1232 update body', detail: JSON.stringify(body) });
    }
    for (const step of Object.keys(timestepData ?? {})) {
      if (!/^\d+$/.test(step)) this.violations.push({ rule: 'io_struct.py:1231 timestep_data keys are ints', detail: step });
    }
    // scheduler_output_processor_mixin.py:766 and :772: prefetch runs `int(agent_id)` over every agent of
    // timestep_data and names its work `lora{agent_id}`; one non-integer aborts the whole dispatch.
    for (const agents of Object.values(timestepData ?? {})) {
      for (const agent of agents as unknown[]) {
        if (typeof agent !== 'string' || !/^-?\d+$/.test(agent)) {
          this.violations.push({ rule: 'scheduler_output_processor_mixin.py:766 int(agent_id)', detail: String(agent) });
        }
      }
    }
    const answer = this.updateAnswers.shift();
    if (answer) return answer; // http_server.py:1092-1097 answer failures with HTTP 200 and status "error"
    this.agentData = agentData; // agent_manager.py:21-25
    return { status: 'success', message: 'Agent timesteps updated successfully' }; // http_server.py:1092
  }
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}
