import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildCli } from './cli/commands.ts';
import { VERSION } from './version.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

describe('VERSION', () => {
  it('is the version in package.json, not a copy kept in the code', () => {
    expect(VERSION).toBe(pkg.version);
  });

  it('is what `nova --version` prints', () => {
    expect(buildCli([]).version()).toBe(pkg.version);
  });
});
