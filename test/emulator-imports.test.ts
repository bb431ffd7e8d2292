import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * Emulators (src/emulators) load only when a demo default or `nova emulator` starts one: Nova's
 * own modules import them as types, or with `await import(...)` where they are used, never with a
 * static value import that would load smtp-server, the push service or the demo PDFs into every
 * production process. src/index.ts, the library's public entry, re-exports them for users' tests
 * on purpose and is not part of `nova start`.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXEMPT = new Set(['src/index.ts']);

/** Static value imports and re-exports of an emulator module in `source`. */
function emulatorValueImports(source: string, file = 'x.ts'): string[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  for (const node of sf.statements) {
    let typeOnly: boolean;
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings;
      typeOnly = clause?.isTypeOnly === true
        || (clause !== undefined && !clause.name && named !== undefined && ts.isNamedImports(named) && named.elements.every((e) => e.isTypeOnly));
    } else if (ts.isExportDeclaration(node)) {
      typeOnly = node.isTypeOnly;
    } else {
      continue;
    }
    const spec = node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) ? node.moduleSpecifier.text : '';
    if (/(^|\/)emulators\//.test(spec) && !typeOnly) found.push(spec);
  }
  return found;
}

describe('emulator imports', () => {
  it('finds no static value import of an emulator outside src/emulators', () => {
    const files = readdirSync(join(ROOT, 'src'), { withFileTypes: true, recursive: true })
      .filter((d) => d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.test.ts'))
      .map((d) => relative(ROOT, join(d.parentPath, d.name)))
      .filter((f) => !f.startsWith('src/emulators/') && !EXEMPT.has(f));
    expect(files.length).toBeGreaterThan(50);
    const offenders = files.flatMap((f) => emulatorValueImports(readFileSync(join(ROOT, f), 'utf8'), f).map((spec) => `${f}: ${spec}`));
    expect(offenders).toEqual([]);
  });

  it('tells a value import from a type import and a dynamic import', () => {
    expect(emulatorValueImports(`import { SmtpSink } from '../emulators/smtp/index.ts';`)).toEqual(['../emulators/smtp/index.ts']);
    expect(emulatorValueImports(`export { GdriveEmulator } from './emulators/gdrive/index.ts';`)).toEqual(['./emulators/gdrive/index.ts']);
    expect(emulatorValueImports(`import { type A, B } from '../emulators/llm/index.ts';`)).toEqual(['../emulators/llm/index.ts']);
    expect(emulatorValueImports(`import type { SmtpSink } from '../emulators/smtp/index.ts';`)).toEqual([]);
    expect(emulatorValueImports(`import { type A, type B } from '../emulators/llm/index.ts';`)).toEqual([]);
    expect(emulatorValueImports(`const { SmtpSink } = await import('../emulators/smtp/index.ts');`)).toEqual([]);
  });
});
