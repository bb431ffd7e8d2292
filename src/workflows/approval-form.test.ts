import { describe, expect, it } from 'vitest';
import { checkForm, formProblems, MAX_VALIDATORS, validatorOf } from './approval-form.ts';

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
  });

  it('compiles a schema once per process, whichever object carries it', () => {
    const first = validatorOf(query);
    expect(validatorOf(structuredClone(query))).toBe(first);
    expect(validatorOf({ ...query, required: [] })).not.toBe(first);
  });

  it('keeps nothing in the Ajv instance: a schema id may come back with other content, and a broken schema leaves nothing behind', () => {
    const a = { $id: 'https://example.com/form', type: 'object', required: ['a'] };
    const b = { $id: 'https://example.com/form', type: 'object', required: ['b'] };
    expect(formProblems(a, {})).toEqual(["(data): must have required property 'a'"]);
    expect(formProblems(b, {})).toEqual(["(data): must have required property 'b'"]);
    const broken = { $id: 'https://example.com/broken', type: 'nonsense' };
    expect(() => checkForm(broken)).toThrow();
    expect(() => checkForm(broken)).toThrow();
    expect(formProblems({ $id: 'https://example.com/broken', type: 'string' }, 'ok')).toEqual([]);
  });

  it('keeps the validators of the most recently used schemas only', () => {
    const oldest = { type: 'object', title: 'oldest' };
    const kept = validatorOf(oldest);
    for (let i = 0; i < MAX_VALIDATORS; i++) validatorOf({ type: 'object', title: `filler ${i}` });
    expect(validatorOf(oldest)).not.toBe(kept);
    // A schema in use is not dropped: the one used just now survives the next filler.
    const recent = validatorOf(oldest);
    validatorOf({ type: 'object', title: 'one more' });
    expect(validatorOf(oldest)).toBe(recent);
  });
});
