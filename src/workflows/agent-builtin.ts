/**
 * The builtin agent model: deterministic and offline, for the demo and tests with no key. Each
 * turn it calls the next declared tool it has not called yet (one per turn, arguments made from
 * the tool's JSON Schema and the task), and once every tool answered it gives a final answer that
 * satisfies the output schema, built from the task and the tool results. The LLM emulator answers
 * tool-calling requests with the same policy, so the wire path and the builtin agree.
 */
import type { AgentMessage, ToolCall, ToolDeclaration } from './agent-types.ts';

export interface BuiltinTurn {
  text: string;
  toolCalls: Omit<ToolCall, 'id'>[];
}

/** The tool a workflow document's agent may use to patch its run; the builtin never proposes patches on its own. */
export const PATCH_TOOL = 'patch_workflow';
/** The tool an Anthropic request carries for a structured answer (its input is the answer). */
export const FINAL_TOOL = 'final_answer';

export function builtinTurn(request: { messages: AgentMessage[]; tools: ToolDeclaration[]; outputSchema: Record<string, unknown> | null }): BuiltinTurn {
  const called = new Set<string>();
  for (const m of request.messages) if (m.role === 'assistant') for (const c of m.toolCalls ?? []) called.add(c.name);
  const task = request.messages.find((m) => m.role === 'user')?.content ?? '';
  const next = request.tools.find((t) => !called.has(t.name) && t.name !== PATCH_TOOL && t.name !== FINAL_TOOL);
  if (next) {
    return { text: `I will use ${next.name}.`, toolCalls: [{ name: next.name, arguments: sample(next.parameters, task, next.name) }] };
  }
  const results = request.messages.flatMap((m) => (m.role === 'tool' ? [`${m.name}: ${m.content.slice(0, 300)}`] : []));
  const summary = `${oneLine(task).slice(0, 200)}${results.length ? ` — from ${results.length} tool result(s): ${results.map(oneLine).join(' | ')}` : ''}`;
  if (request.outputSchema) return { text: JSON.stringify(sample(request.outputSchema, summary, 'output')), toolCalls: [] };
  const final = request.tools.find((t) => t.name === FINAL_TOOL);
  if (final) return { text: '', toolCalls: [{ name: FINAL_TOOL, arguments: sample(final.parameters, summary, 'output') }] };
  return { text: summary, toolCalls: [] };
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** A value satisfying the common JSON Schema keywords, strings filled from `text`. Depth-bounded. */
export function sample(schema: unknown, text: string, name = '', depth = 0): unknown {
  const s = (schema && typeof schema === 'object' ? schema : {}) as Record<string, any>;
  if (depth > 8) return null;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  for (const k of ['anyOf', 'oneOf', 'allOf']) if (Array.isArray(s[k]) && s[k].length) return sample(s[k][0], text, name, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t: string) => t !== 'null') : s.type ?? (s.properties ? 'object' : undefined);
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) out[key] = sample(sub, text, key, depth + 1);
      return out;
    }
    case 'array': {
      const n = Math.min(Math.max(1, s.minItems ?? 1), s.maxItems ?? 1_000, 20);
      if (s.maxItems === 0) return [];
      return Array.from({ length: n }, (_, i) => sample(s.items, n > 1 ? `${text} (${i + 1})` : text, name, depth + 1));
    }
    case 'integer':
    case 'number': {
      const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + 1 : -Infinity);
      const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - 1 : Infinity);
      const value = Math.min(Math.max(1, min), max);
      return type === 'integer' ? Math.ceil(value) : value;
    }
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'string':
      return sampleString(s, text, name);
    default:
      return text;
  }
}

function sampleString(s: Record<string, any>, text: string, name: string): string {
  if (s.format === 'uri' || s.format === 'url' || /url|uri|link/i.test(name)) return 'https://example.com/';
  if (s.format === 'date-time') return new Date(0).toISOString();
  if (s.format === 'date') return '1970-01-01';
  if (s.format === 'email') return 'agent@example.com';
  let v = text || name || 'answer';
  const max = typeof s.maxLength === 'number' ? s.maxLength : undefined;
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  if (max !== undefined) v = v.slice(0, max);
  while (v.length < min) v += '.';
  return v;
}
