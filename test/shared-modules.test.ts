import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Test files share their worker's loaded modules (`isolate: false` in vitest.config.ts), so a
 * file must not change what the next file in the same process imports or reads: no module
 * mocks, no stubbed globals or timers left behind, no writes to process.env.
 */
const root = fileURLToPath(new URL('../', import.meta.url));
const FORBIDDEN: [RegExp, string][] = [
  [/\bvi\.(mock|doMock|stubEnv|stubGlobal|useFakeTimers|setSystemTime)\(/, 'changes modules, globals or timers for the whole worker'],
  [/process\.env(\.\w+|\[[^\]]+\])?\s*=(?!=)/, 'writes process.env for the whole worker'],
  [/delete process\.env|Object\.assign\(process\.env/, 'writes process.env for the whole worker'],
];

describe('test files shared by a worker', () => {
  it('leave modules, globals and the environment as they found them', () => {
    const files = [
      ...['test', 'src'].flatMap((dir) =>
        readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.ts')).map((f) => join(dir, f)),
      ),
      ...readdirSync(join(root, 'test/helpers')).filter((f) => f.endsWith('.ts')).map((f) => join('test/helpers', f)),
    ];
    expect(files.length).toBeGreaterThan(100);
    const found = files.flatMap((file) => {
      if (file === 'test/shared-modules.test.ts') return [];
      const text = readFileSync(join(root, file), 'utf8');
      return FORBIDDEN.filter(([pattern]) => pattern.test(text)).map(([, why]) => `${file}: ${why}`);
    });
    expect(found).toEqual([]);
  });
});
