/**
 * An agent turn (text and tool calls) in the two providers' wire formats, whole or streamed.
 * OpenAI streams `chat.completion.chunk`s as bare `data:` events ending with `data: [DONE]`;
 * Anthropic's Messages API streams named events: `message_start`, then per content block
 * `content_block_start`, `content_block_delta` (`text_delta` or `input_json_delta`) and
 * `content_block_stop`, then `message_delta` (stop reason, output usage) and `message_stop`, with a
 * `ping` after the start as the real service sends. Its SDK skips events without an `event:` name.
 */
import { randomUUID } from 'node:crypto';
import type { BuiltinTurn } from '../../workflows/agent-builtin.ts';

/** One server-sent event; `token` marks a piece of the answer (the emulator may pause or hold before it). */
export interface SseFrame {
  event?: string;
  data: unknown;
  token?: boolean;
}

export interface WireAnswer {
  body?: unknown;
  /** Streamed instead: these frames, then `done` as a last `data:` line when set. */
  sse?: { frames: SseFrame[]; done?: string };
}

interface Usage {
  input: number;
  output: number;
}

type Call = BuiltinTurn['toolCalls'][number] & { id: string };

/** The answer's text in the pieces a model streams: a word and its trailing space each. */
export const pieces = (text: string): string[] => text.match(/\S+\s*/g) ?? [];

/** JSON text in a few parts, as partial_json / arguments deltas arrive. */
function jsonParts(json: string): string[] {
  const size = Math.max(8, Math.ceil(json.length / 3));
  const out: string[] = [];
  for (let i = 0; i < json.length; i += size) out.push(json.slice(i, i + size));
  return out.length ? out : [''];
}

export function toolCallId(api: 'openai' | 'anthropic'): string {
  return api === 'openai' ? `call_${randomUUID().replace(/-/g, '').slice(0, 24)}` : `toolu_${randomUUID().replace(/-/g, '')}`;
}

export function openAiTurn(model: string, turn: BuiltinTurn, calls: Call[], usage: Usage, stream: boolean, includeUsage: boolean): WireAnswer {
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const toolCalls = calls.map((c, index) => ({ index, id: c.id, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
  const finish = calls.length ? 'tool_calls' : 'stop';
  const u = { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output };
  if (!stream) {
    return {
      body: {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content: turn.text || null, refusal: null, ...(toolCalls.length && { tool_calls: toolCalls.map(({ index: _, ...t }) => t) }) }, finish_reason: finish, logprobs: null }],
        usage: u,
      },
    };
  }
  const chunk = (delta: unknown, finishReason: string | null = null) => ({ id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }] });
  const frames: SseFrame[] = [{ data: chunk({ role: 'assistant', content: '' }) }];
  for (const piece of pieces(turn.text)) frames.push({ data: chunk({ content: piece }), token: true });
  for (const t of toolCalls) {
    frames.push({ data: chunk({ tool_calls: [{ index: t.index, id: t.id, type: 'function', function: { name: t.function.name, arguments: '' } }] }) });
    for (const part of jsonParts(t.function.arguments)) frames.push({ data: chunk({ tool_calls: [{ index: t.index, function: { arguments: part } }] }) });
  }
  frames.push({ data: chunk({}, finish) });
  if (includeUsage) frames.push({ data: { id, object: 'chat.completion.chunk', created, model, choices: [], usage: u } });
  return { sse: { frames, done: '[DONE]' } };
}

/** `answerTool`: the tool whose input is the structured answer (its JSON streams as the answer's tokens). */
export function anthropicTurn(model: string, turn: BuiltinTurn, calls: Call[], usage: Usage, stream: boolean, answerTool?: string): WireAnswer {
  const id = `msg_${randomUUID().replace(/-/g, '')}`;
  const stopReason = calls.length ? 'tool_use' : 'end_turn';
  const content: ({ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: unknown })[] = turn.text ? [{ type: 'text', text: turn.text }] : [];
  for (const c of calls) content.push({ type: 'tool_use', id: c.id, name: c.name, input: c.arguments });
  if (!stream) {
    return {
      body: {
        id, type: 'message', role: 'assistant', model, content,
        stop_reason: stopReason, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: usage.output },
      },
    };
  }
  const frames: SseFrame[] = [
    {
      event: 'message_start',
      data: {
        type: 'message_start',
        message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input, output_tokens: 1 } },
      },
    },
    { event: 'ping', data: { type: 'ping' } },
  ];
  content.forEach((block, index) => {
    const start = block.type === 'text' ? { type: 'text', text: '' } : { type: 'tool_use', id: block.id, name: block.name, input: {} };
    frames.push({ event: 'content_block_start', data: { type: 'content_block_start', index, content_block: start } });
    if (block.type === 'text') {
      for (const text of pieces(block.text)) frames.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'text_delta', text } }, token: true });
    } else {
      for (const partial of jsonParts(JSON.stringify(block.input))) {
        frames.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: partial } }, token: block.name === answerTool });
      }
    }
    frames.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index } });
  });
  frames.push({ event: 'message_delta', data: { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: usage.output } } });
  frames.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return { sse: { frames } };
}
