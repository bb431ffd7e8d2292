import { describe, expect, it } from 'vitest';
import { evaluateCel, evaluateCondition, referencedNodes, resolveRefs } from './expressions.ts';

describe('document expressions', () => {
  it('evaluates CEL over JSON with ints and doubles, and the original $. shorthand', () => {
    expect(evaluateCel('output.count + 1', { output: { count: 2 } })).toBe(3);
    expect(evaluateCondition('$.score > 50 && ctx["a:output"] == "x"', { output: { score: 80.5 }, ctx: { 'a:output': 'x' } })).toBe(true);
    expect(evaluateCel('{"n": nodes.a * 2}', { nodes: { a: 4 } })).toEqual({ n: 8 });
    expect(() => evaluateCondition('output.count', { output: { count: 1 } })).toThrow(/not a boolean/);
  });

  it('resolves whole-value and interpolated $nodes / $input references', () => {
    const nodes = { fetch: { body: { id: 7, tags: ['a'] } } };
    expect(resolveRefs({ id: '$nodes.fetch.body.id', url: 'https://x/${$nodes.fetch.body.id}?q=${$input.q}', list: ['$nodes.fetch.body.tags'] }, nodes, { q: 'z' }))
      .toEqual({ id: 7, url: 'https://x/7?q=z', list: [['a']] });
    expect([...referencedNodes({ a: '$nodes.one.x', b: ['${$nodes.two}'] })]).toEqual(['one', 'two']);
  });
});
