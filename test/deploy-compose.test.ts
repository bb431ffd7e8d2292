import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config.ts';
import { domains } from '../src/domains.ts';

/**
 * docker-compose.yml follows the runtime: one service per role of src/domains.ts (a new role
 * without a service fails here), grouped in profiles by system, each with a health check, limits,
 * and a stop grace above SHUTDOWN_TIMEOUT_MS. No docker engine is needed: the files are parsed.
 */
const root = fileURLToPath(new URL('../', import.meta.url));
const read = (file: string) => readFileSync(`${root}${file}`, 'utf8');

type Service = {
  image?: string; build?: unknown; command?: string[]; profiles?: string[]; ports?: string[];
  environment?: Record<string, string>; env_file?: unknown; restart?: string;
  depends_on?: Record<string, { condition: string }>; stop_grace_period?: string;
  healthcheck?: { test?: string[]; disable?: boolean; interval?: string };
  deploy?: { replicas?: string | number; resources?: { limits?: { cpus?: string; memory?: string }; reservations?: unknown } };
  volumes?: string[];
};
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service> };
const dev = parse(read('docker-compose.dev.yml'), { merge: true }) as { services: Record<string, Service> };
const INFRA = ['postgres', 'redis', 'migrate'];
// Compose keys these files use; an unknown one is most likely a typo that compose would reject.
const KEYS = new Set(['image', 'build', 'command', 'profiles', 'ports', 'environment', 'env_file', 'depends_on', 'stop_grace_period',
  'healthcheck', 'deploy', 'volumes', 'restart']);
const SYSTEMS = ['email', 'notifications', 'deals', 'orchestrator'];
/** Seed 004 names the agent runner's replica variable after its old service name. */
const REPLICA_VARIABLES: Record<string, string> = { 'agent-runner': 'AGENT_WORKER_REPLICAS' };

const roles = domains.flatMap((d) => d.roles);
const novaServices = Object.entries(compose.services).filter(([name]) => !INFRA.includes(name));
const seconds = (d: string) => {
  const m = /^(\d+)(ms|s|m)$/.exec(d);
  if (!m) throw new Error(`not a compose duration: ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60 }[m[2] as 'ms' | 's' | 'm'];
};

describe('docker-compose.yml', () => {
  it('has one service per role of src/domains.ts, each starting exactly that role', () => {
    expect(novaServices.map(([name]) => name).sort()).toEqual([...roles].sort());
    for (const [name, s] of novaServices) expect(s.command, name).toEqual(['start', name]);
    expect(compose.services.migrate!.command).toEqual(['migrate']);
    for (const [name, s] of Object.entries(compose.services)) {
      expect(Object.keys(s).filter((k) => !KEYS.has(k)), name).toEqual([]);
    }
  });

  it('puts each domain\'s roles in its system\'s profile; api runs with every profile', () => {
    for (const d of domains) {
      for (const role of d.roles) {
        const profiles = compose.services[role]!.profiles;
        if (d.group) expect(profiles, role).toEqual([d.group]);
        for (const p of profiles ?? []) expect([...SYSTEMS, 'fanout']).toContain(p);
      }
    }
    expect(compose.services.api!.profiles).toBeUndefined();
    for (const name of INFRA) expect(compose.services[name]!.profiles, name).toBeUndefined();
  });

  it('gives every Nova service the image, a health check on /health, limits, and a grace above SHUTDOWN_TIMEOUT_MS', () => {
    const shutdownMs = loadConfig({}).SHUTDOWN_TIMEOUT_MS;
    expect(compose.services.migrate!.environment!.SHUTDOWN_TIMEOUT_MS).toBe(`\${SHUTDOWN_TIMEOUT_MS:-${shutdownMs}}`);
    for (const [name, s] of novaServices) {
      expect(s.image, name).toBe('${NOVA_IMAGE:-nova:local}');
      expect(s.healthcheck?.test?.join(' '), name).toMatch(/WORKER_HEALTH_PORT\|\|3001\)\+'\/health'/);
      expect(seconds(s.stop_grace_period!) * 1000, name).toBeGreaterThan(shutdownMs);
      expect(s.deploy?.resources?.limits?.cpus, name).toMatch(/^\d+(\.\d+)?$/);
      expect(s.deploy?.resources?.limits?.memory, name).toMatch(/^\d+[MG]$/);
      expect(s.depends_on?.migrate, name).toEqual({ condition: 'service_completed_successfully' });
      expect(s.environment?.DATABASE_URL, name).toMatch(/^postgres:\/\/.*@postgres:5432\//);
      expect(s.environment?.REDIS_URL, name).toBe('redis://redis:6379');
    }
    for (const name of ['postgres', 'redis']) expect(compose.services[name]!.healthcheck?.test, name).toBeDefined();
  });

  it('takes replicas from <ROLE>_REPLICAS, and .env.docker lists every variable the file reads', () => {
    for (const [name, s] of novaServices) {
      if (s.deploy?.replicas === undefined) continue;
      const variable = REPLICA_VARIABLES[name] ?? `${name.toUpperCase().replace(/-/g, '_')}_REPLICAS`;
      expect(String(s.deploy.replicas), name).toMatch(new RegExp(`^\\$\\{${variable}:-\\d+\\}$`));
    }
    expect(novaServices.filter(([, s]) => s.deploy?.replicas !== undefined).map(([n]) => n).sort())
      .toEqual(roles.filter((r) => r !== 'api' && r !== 'fanout').sort());
    const envDocker = read('.env.docker');
    const used = new Set([...read('docker-compose.yml').matchAll(/\$\{([A-Z_]+)[:}?-]/g)].map((m) => m[1]!));
    for (const v of used) expect(envDocker, v).toMatch(new RegExp(`^#? ?${v}=`, 'm'));
    // The profiles of every system that has roles today are on by default.
    const systems = [...new Set(domains.map((d) => d.group).filter((g): g is string => !!g && SYSTEMS.includes(g)))];
    expect(/^COMPOSE_PROFILES=(.*)$/m.exec(envDocker)?.[1]?.split(',').sort()).toEqual(systems.sort());
  });

  it('docker-compose.dev.yml runs only PostgreSQL and Redis', () => {
    expect(Object.keys(dev.services).sort()).toEqual(['postgres', 'redis']);
  });
});
