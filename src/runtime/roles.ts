import { ConfigError } from '../config.ts';
import type { Domain } from './domain.ts';

/**
 * Turns WORKER_TYPE (a role, a comma list, a group, or `all`) into the set of roles this process
 * runs. Unknown names are a configuration error that lists what is known.
 */
export function resolveRoles(workerType: string, domains: readonly Domain[]): Set<string> {
  const all = domains.flatMap((d) => d.roles);
  const groups = new Map<string, string[]>();
  for (const d of domains) if (d.group) groups.set(d.group, [...(groups.get(d.group) ?? []), ...d.roles]);
  const roles = new Set<string>();
  const unknown: string[] = [];
  for (const name of workerType.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (name === 'all') all.forEach((r) => roles.add(r));
    else if (groups.has(name)) groups.get(name)!.forEach((r) => roles.add(r));
    else if (all.includes(name)) roles.add(name);
    else unknown.push(name);
  }
  if (unknown.length) {
    const known = ['all', ...groups.keys(), ...all].join(', ');
    throw new ConfigError([{ variable: 'WORKER_TYPE', message: `unknown role ${unknown.map((u) => `"${u}"`).join(', ')} (known: ${known})` }]);
  }
  return roles;
}
