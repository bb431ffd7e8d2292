import { describe, expect, it } from 'vitest';
import { checkForm, formProblems, MAX_COMPILES, validatorOf } from './approval-form.ts';

const query = { type: 'object', properties: { query: { type: 'string', minLength: 1 }, email: { type: 'string', format: 'email' } }, required: ['query'] };

describe('JSON Schema checks (approval forms, agent tools)', () => {
  it('reports every problem with its path, formats included', () => {
    expect(formProblems(query, { query: 'nova' })).toEqual([]);
    expect(formProblems(query, { query: '', email: 'nope' })).toEqual([
      '/query: must NOT have fewer than 1 characters',
      '/email: must match format "email"',
    ]);
    expect(() => checkForm({ type: 'objekt' })).toThrow();
    expect(() => checkForm([])).toThrow(/JSON Schema object/);
    expect(() => checkForm({ $async: true, type: 'object' })).toThrow(/async/);
  });

  it('compiles a schema once, whichever object carries it', () => {
    const first = validatorOf(query);
    expect(validatorOf(structuredClone(query))).toBe(first);
    expect(validatorOf({ ...query, required: [] })).not.toBe(first);
  });

  it('compiles schemas that name their parts alone: an $id another schema used never collides', () => {
    const nested = { type: 'object', properties: { x: { $ref: '#/$defs/x' } }, $defs: { x: { $id: 'https://example.com/x', type: 'string' } } };
    expect(formProblems(nested, { x: 1 })).toEqual(['/x: must be string']);
    const a = { $id: 'https://example.com/x', type: 'object', required: ['a'] };
    const b = { $id: 'https://example.com/x', type: 'object', required: ['b'] };
    expect(formProblems(a, {})).toEqual(["(data): must have required property 'a'"]);
    expect(formProblems(b, {})).toEqual(["(data): must have required property 'b'"]);
    const broken = { $id: 'https://example.com/broken', type: 'nonsense' };
    expect(() => checkForm(broken)).toThrow();
    expect(formProblems({ $id: 'https://example.com/broken', type: 'string' }, 'ok')).toEqual([]);
  });

  it('keeps one generation of validators: a schema compiled MAX_COMPILES compiles ago is compiled again', () => {
    const oldest = { type: 'object', title: 'oldest' };
    const kept = validatorOf(oldest);
    for (let i = 0; i < MAX_COMPILES; i++) validatorOf({ type: 'object', title: `filler ${i}` });
    expect(validatorOf(oldest)).not.toBe(kept);
    const big = { type: 'object', description: 'x'.repeat(70_000) };
    expect(validatorOf(big)).not.toBe(validatorOf(big));
  });
});
