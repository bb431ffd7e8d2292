import { readFileSync } from 'node:fs';

/**
 * Nova's version, read from package.json at start so a release bump changes it everywhere it is
 * printed (`nova --version`, /status, the worker registry). The file sits one folder above this
 * module both in `src/` (tsx) and in `dist/` (the build), and the package ships it, so the path is
 * resolved from the module's URL rather than the working directory.
 */
function readVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const version = (pkg as { version?: unknown } | null)?.version;
  if (typeof version !== 'string' || version === '') throw new Error('package.json has no version');
  return version;
}

export const VERSION: string = readVersion();
