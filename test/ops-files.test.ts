import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { domains } from '../src/domains.ts';
import { resolveRoles } from '../src/runtime/roles.ts';

const require = createRequire(import.meta.url);
const EMAIL_ROLES = ['webhooks', 'backfill', 'threads', 'completion', 'extraction-queue', 'extraction'];

/** The seed's per-role entry points: npm scripts and a PM2 file, each naming a real role. */
describe('per-role scripts and the PM2 ecosystem file', () => {
  it('has start:<role> and dev:<role> for every role of seeds 000/001, each a role Nova knows', () => {
    const scripts = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts as Record<string, string>;
    for (const role of EMAIL_ROLES) {
      expect(scripts[`start:${role}`]).toBe(`node dist/cli/main.js start ${role}`);
      expect(scripts[`dev:${role}`]).toBe(`tsx src/cli/main.ts start ${role}`);
    }
    for (const [name, script] of Object.entries(scripts).filter(([n]) => /^(start|dev):/.test(n) && n !== 'dev:web')) {
      expect([...resolveRoles(script.split(' ').at(-1)!, domains)], name).toEqual([name.split(':')[1]]);
    }
  });

  it('runs one PM2 app per role with distinct health ports', () => {
    const { apps } = require('../ecosystem.config.cjs') as { apps: { name: string; args: string; env: Record<string, string> }[] };
    const roles = apps.map((a) => a.args.replace(/^start /, ''));
    expect(roles).toEqual(expect.arrayContaining(EMAIL_ROLES));
    for (const app of apps) {
      expect([...resolveRoles(app.env.WORKER_TYPE!, domains)]).toEqual([app.args.replace(/^start /, '')]);
      expect(app.name).toBe(`nova-${app.env.WORKER_TYPE}`);
    }
    expect(new Set(apps.map((a) => a.env.WORKER_HEALTH_PORT)).size).toBe(apps.length);
  });
});
