/**
 * CEL (through @marcbachmann/cel-js: no eval) and `$nodes.<id>.<path>` references.
 *
 * CEL variables: `output` (the result that reached the decision: the source node's output for an
 * edge, the triggering input for a conditional or loop node), `ctx` (`{"<node>:output": …}` as
 * in the original), `nodes` (`{<node>: output}`), `input` (the run's input); `item` and `index`
 * inside a map or filter. `$.` is rewritten to `output.` as the original does. JSON integers
 * become CEL ints (so `output.count + 1` works) and ints come back as numbers.
 */
import { Environment } from '@marcbachmann/cel-js';

const env = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false });

type Program = (vars: Record<string, unknown>) => unknown;

/** Compiles a CEL expression; throws with the library's message on a syntax error. */
export function compileCel(expression: string, cache?: Map<string, Program>): Program {
  const cached = cache?.get(expression);
  if (cached) return cached;
  const program = env.parse(expression.replace(/\$\./g, 'output.')) as unknown as Program;
  cache?.set(expression, program);
  return program;
}

export function evaluateCel(expression: string, vars: Record<string, unknown>, cache?: Map<string, Program>): unknown {
  return fromCel(compileCel(expression, cache)(toCel(vars) as Record<string, unknown>));
}

/** A condition: must evaluate to a boolean. */
export function evaluateCondition(expression: string, vars: Record<string, unknown>, cache?: Map<string, Program>): boolean {
  const v = evaluateCel(expression, vars, cache);
  if (typeof v !== 'boolean') throw new Error(`condition ${JSON.stringify(expression)} gave ${typeof v}, not a boolean`);
  return v;
}

function toCel(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (v && typeof v === 'object' && !(v instanceof Date)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toCel(x)]));
  return v;
}

function fromCel(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(fromCel);
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), fromCel(x)]));
  if (v && typeof v === 'object' && v.constructor === Object) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromCel(x)]));
  return v;
}

const WHOLE = /^\$(nodes\.([A-Za-z0-9_-]+)|input)((?:\.[A-Za-z0-9_-]+)*)$/;
const INTERPOLATED = /\$\{\s*\$(nodes\.([A-Za-z0-9_-]+)|input)((?:\.[A-Za-z0-9_-]+)*)\s*\}/g;
const ANY_REF = /\$nodes\.([A-Za-z0-9_-]+)/g;

/** Every node id a config refers to through `$nodes.<id>`. */
export function referencedNodes(value: unknown, into = new Set<string>()): Set<string> {
  if (typeof value === 'string') for (const m of value.matchAll(ANY_REF)) into.add(m[1]!);
  else if (Array.isArray(value)) value.forEach((v) => referencedNodes(v, into));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => referencedNodes(v, into));
  return into;
}

/**
 * Replaces references in a config: a string that is exactly `$nodes.<id>.<path>` (or
 * `$input.<path>`) becomes that value; `${$nodes.<id>.<path>}` inside a string is interpolated.
 */
export function resolveRefs(value: unknown, nodes: Record<string, unknown>, input: unknown): unknown {
  if (typeof value === 'string') {
    const whole = WHOLE.exec(value);
    if (whole) return lookup(whole, nodes, input);
    return value.replace(INTERPOLATED, (...m) => {
      const v = lookup(m as unknown as RegExpExecArray, nodes, input);
      return typeof v === 'string' ? v : JSON.stringify(v ?? null);
    });
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, nodes, input));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, nodes, input)]));
  return value;
}

function lookup(m: RegExpExecArray | string[], nodes: Record<string, unknown>, input: unknown): unknown {
  let v: unknown = m[2] !== undefined ? nodes[m[2]] : input;
  for (const key of (m[3] ?? '').split('.').filter(Boolean)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}
