import { readdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

/**
 * The sources the tests start as processes (`nova …` through test/helpers/process.ts), compiled
 * once per `vitest run` into plain JavaScript, one file per source file.
 *
 * Why: a process started through tsx's loader pays its hooks on every module it loads. Measured
 * on `nova --help` here: 1.6 s (2.2 s of CPU) through tsx, 0.8 s compiled; the suite starts a
 * few hundred such processes on two cores. Compiling takes about half a second.
 *
 * The output is the source with its types removed: the same modules, the same relative imports
 * (`./x.ts` becomes `./x.js`), packages resolved from the project's node_modules (the output
 * lives under it), and `import.meta.url` kept pointing at the source file, so a module that
 * reads the migrations, package.json or the dashboard next to itself finds them as under tsx.
 */
export async function compileForProcesses(root: string, outDir: string): Promise<void> {
  const entryPoints = ['src', 'test/fixtures'].flatMap((dir) =>
    readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.d.ts'))
      .map((f) => join(dir, f)),
  );
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir: outDir,
    outbase: '.',
    // `bundle` only so that the plugin sees every import; each one stays external.
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    plugins: [fileByFile],
  });
  // Under node_modules, Node looks no further up for the project's package.json: say here that
  // the files are ES modules, so none is ever loaded as CommonJS by syntax detection.
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
}

const fileByFile: Plugin = {
  name: 'file-by-file',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined;
      return { path: args.path.startsWith('.') ? args.path.replace(/\.ts$/, '.js') : args.path, external: true };
    });
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
    });
  },
};
