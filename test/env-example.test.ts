import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../src/config.ts';
import { domains } from '../src/domains.ts';

/** README points newcomers to .env.example for every setting: it must name each one the boot schema reads. */
describe('.env.example', () => {
  it('lists every setting of the boot schema and of every domain slice', () => {
    const keys = new Set(Object.keys(configSchema.shape));
    for (const domain of domains) for (const key of Object.keys(domain.config?.shape ?? {})) keys.add(key);
    const text = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const missing = [...keys].filter((key) => !new RegExp(`^#?\\s*${key}=`, 'm').test(text));
    expect(keys.size).toBeGreaterThan(100);
    expect(missing).toEqual([]);
  });
});
