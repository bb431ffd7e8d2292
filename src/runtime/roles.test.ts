import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config.ts';
import type { Domain } from './domain.ts';
import { resolveRoles } from './roles.ts';

const domains: Domain[] = [
  { name: 'email', group: 'email', roles: ['webhooks', 'threads'] },
  { name: 'deals', group: 'deals', roles: ['documents'] },
];

describe('resolveRoles', () => {
  it('expands all, groups, single roles and comma lists', () => {
    expect([...resolveRoles('all', domains)]).toEqual(['webhooks', 'threads', 'documents']);
    expect([...resolveRoles('email', domains)]).toEqual(['webhooks', 'threads']);
    expect([...resolveRoles('threads, documents', domains)]).toEqual(['threads', 'documents']);
  });

  it('rejects unknown names, listing what is known', () => {
    expect(() => resolveRoles('threads,nope', domains)).toThrow(ConfigError);
    expect(() => resolveRoles('nope', domains)).toThrow(/WORKER_TYPE: unknown role "nope" \(known: all, email, deals, webhooks/);
  });
});
