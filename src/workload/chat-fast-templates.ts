/**
 * The two preset chat templates (chat-templates.ts) written out as string building for the conversations
 * the gateway sees on nearly every request: plain turns with text content, no tools, no tool calls. The
 * Jinja interpreter costs tens of microseconds per render (a value object per node visited); this costs
 * a few string joins. Anything else (tools, tool calls, tool turns, extra render variables, an empty
 * conversation, a non-string field) returns undefined and the caller renders with Jinja, so the output is
 * always the template's own. test/workload/chat-render.test.ts checks both against @huggingface/jinja's
 * `Template.render` on generated conversations, including the ones that must fall back.
 */
import { LLAMA_3_1_INSTRUCT, QWEN_2_5_INSTRUCT } from './chat-templates.js';

/** A render of `items` (the template's variables), or undefined when the conversation is not a plain one. */
export type FastRender = (items: Readonly<Record<string, unknown>>) => string | undefined;

/** The fast render of a template source that is one of the presets' templates (exactly), else undefined. */
export function fastRenderFor(source: string, constants: Readonly<Record<string, unknown>>): FastRender | undefined {
  if (source === LLAMA_3_1_INSTRUCT) {
    const bos = constants.bos_token;
    return typeof bos === 'string' ? (items) => renderLlama31(bos, items) : undefined;
  }
  if (source === QWEN_2_5_INSTRUCT) return renderQwen25;
  return undefined;
}

/**
 * The render variables and turns of a plain conversation: only `messages` (at least one turn) and a
 * boolean `add_generation_prompt`; every turn a plain record with string `role` and `content` and no
 * `tool_calls` key (the templates test its presence with `in`). Returns the messages, or undefined.
 */
function plainTurns(items: Readonly<Record<string, unknown>>, allowedRole: (role: string) => boolean): readonly { role: string; content: string }[] | undefined {
  let keys = 0;
  for (const key in items) {
    if (!Object.hasOwn(items, key)) continue;
    if (key !== 'messages' && key !== 'add_generation_prompt') return undefined;
    keys++;
  }
  if (typeof items.add_generation_prompt !== 'boolean' || keys !== 2) return undefined;
  const messages = items.messages;
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  for (const message of messages) {
    if (typeof message !== 'object' || message === null) return undefined;
    // Plain records only (JSON's, or without a prototype): the library reads a turn's own entries.
    const prototype = Object.getPrototypeOf(message);
    if (prototype !== Object.prototype && prototype !== null) return undefined;
    const { role, content } = message as { role?: unknown; content?: unknown };
    if (typeof role !== 'string' || typeof content !== 'string' || !allowedRole(role) || Object.hasOwn(message, 'tool_calls')) return undefined;
  }
  return messages as { role: string; content: string }[];
}

const LLAMA_HEADER = '<|start_header_id|>';
const LLAMA_END_HEADER = '<|end_header_id|>\n\n';
const LLAMA_EOT = '<|eot_id|>';

/**
 * Llama 3.1's template without tools: the system turn (trimmed) in the system header after the knowledge
 * and default dates, every other turn as header + trimmed content + eot, then the assistant header. Turns
 * of role `tool` or `ipython` take the template's other branches: those fall back.
 */
function renderLlama31(bos: string, items: Readonly<Record<string, unknown>>): string | undefined {
  const messages = plainTurns(items, (role) => role !== 'tool' && role !== 'ipython');
  if (messages === undefined) return undefined;
  const hasSystem = messages[0]!.role === 'system';
  let out = `${bos}${LLAMA_HEADER}system${LLAMA_END_HEADER}Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n${hasSystem ? messages[0]!.content.trim() : ''}${LLAMA_EOT}`;
  for (let i = hasSystem ? 1 : 0; i < messages.length; i++) {
    const message = messages[i]!;
    out += `${LLAMA_HEADER}${message.role}${LLAMA_END_HEADER}${message.content.trim()}${LLAMA_EOT}`;
  }
  if (items.add_generation_prompt) out += `${LLAMA_HEADER}assistant${LLAMA_END_HEADER}`;
  return out;
}

const QWEN_DEFAULT_SYSTEM = 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.';

/**
 * Qwen2.5's template without tools: the first turn if it is a system turn, else the default system
 * prompt; then user, assistant and later system turns as they are. Other roles fall back (the template
 * drops some of them silently, renders tool turns in a user turn).
 */
function renderQwen25(items: Readonly<Record<string, unknown>>): string | undefined {
  const messages = plainTurns(items, (role) => role === 'user' || role === 'assistant' || role === 'system');
  if (messages === undefined) return undefined;
  const hasSystem = messages[0]!.role === 'system';
  let out = `<|im_start|>system\n${hasSystem ? messages[0]!.content : QWEN_DEFAULT_SYSTEM}<|im_end|>\n`;
  for (let i = hasSystem ? 1 : 0; i < messages.length; i++) {
    const message = messages[i]!;
    out += `<|im_start|>${message.role}\n${message.content}<|im_end|>\n`;
  }
  if (items.add_generation_prompt) out += '<|im_start|>assistant\n';
  return out;
}
