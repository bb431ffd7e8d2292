/**
 * Dashboard weight: the JavaScript a first load of `/` transfers, gzipped exactly as the `api`
 * role sends it (src/http/dashboard.ts gzips each file once at level 9). Target: at most 150 KB (issue 12).
 *
 *   npm run bench:dashboard        # builds web/ into dist/web, then measures
 *
 * First load = the module scripts and modulepreload links index.html names (the app has no lazy
 * chunks; any dynamic import would load later and is listed apart). Exits 1 over the target.
 */
import { gzipSync } from 'node:zlib';
import { DASHBOARD_DIR, loadDashboard } from '../src/http/dashboard.ts';

const TARGET_BYTES = 150 * 1024;

const files = await loadDashboard(DASHBOARD_DIR);
if (!files) {
  console.error(`no dashboard build in ${DASHBOARD_DIR}: run npm run build:web`);
  process.exit(1);
}
const html = files.get('/index.html')!.body.toString('utf8');
const firstLoad = new Set(
  [...html.matchAll(/<script[^>]*\bsrc="([^"]+)"|<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g)].map((m) => (m[1] ?? m[2])!),
);
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
const rows: { file: string; raw: number; gzip: number; first: boolean }[] = [];
for (const [url, file] of files) {
  if (!url.endsWith('.js') && !url.endsWith('.css')) continue;
  rows.push({ file: url, raw: file.body.length, gzip: (file.gzip ?? gzipSync(file.body, { level: 9 })).length, first: firstLoad.has(url) || url.endsWith('.css') });
}
rows.sort((a, b) => Number(b.first) - Number(a.first) || b.gzip - a.gzip);
for (const r of rows) console.log(`${r.first ? 'first load' : 'later     '}  ${r.file.padEnd(40)} ${kb(r.raw).padStart(10)} raw ${kb(r.gzip).padStart(9)} gzip`);
const js = rows.filter((r) => r.first && r.file.endsWith('.js'));
const total = js.reduce((n, r) => n + r.gzip, 0);
console.log(`\nfirst-load JavaScript: ${kb(total)} gzip (${js.length} file${js.length === 1 ? '' : 's'}, ${kb(js.reduce((n, r) => n + r.raw, 0))} raw); target ≤ ${kb(TARGET_BYTES)}`);
if (total > TARGET_BYTES) {
  console.error('over the target');
  process.exit(1);
}
