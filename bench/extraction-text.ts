/**
 * Hostile bodies through extraction's text preparation and the builtin rules. Prints numbers;
 * asserts nothing (test/extraction-adversarial.test.ts holds a generous bound).
 *
 *   npm run bench:extraction-text
 *
 * Every shape of test/helpers/adversarial-text.ts at BENCH_SIZE characters (102400), each run
 * BENCH_RUNS times (7): median and worst wall and CPU milliseconds of prepareBody + the builtin
 * extractor, with the default token budget (3000) and with one large enough (BENCH_SIZE / 4)
 * that the whole body reaches the rules. The target is 50 ms a body.
 */
import { extractBuiltin } from '../src/extraction/builtin/index.ts';
import { prepareBody } from '../src/extraction/text.ts';
import { adversarialBodies } from '../test/helpers/adversarial-text.ts';
import { envInt } from './support.ts';

const int = envInt;
const SIZE = int('BENCH_SIZE', 100 * 1024);
const RUNS = int('BENCH_RUNS', 7);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

for (const budget of [3000, Math.ceil(SIZE / 4)]) {
  const rows: { name: string; wall: number; cpu: number; worstWall: number }[] = [];
  for (const { name, body } of adversarialBodies(SIZE)) {
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const prepared = prepareBody(body, budget);
      extractBuiltin({ subject: 'Re: numbers', from: [{ name: 'Ana', email: 'ana@example.org' }], to: [], cc: [], date: new Date(), ...prepared });
      wall.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    rows.push({ name, wall: median(wall), cpu: median(cpu), worstWall: Math.max(...wall) });
  }
  rows.sort((a, b) => b.wall - a.wall);
  console.log(`\n${rows.length} hostile bodies of ${SIZE} characters, token budget ${budget}, ${RUNS} runs each`);
  console.log(`  median wall ms: worst ${rows[0]!.wall.toFixed(1)}, median ${median(rows.map((r) => r.wall)).toFixed(1)}; median CPU ms: worst ${Math.max(...rows.map((r) => r.cpu)).toFixed(1)}`);
  console.log(`  over 50 ms (median wall): ${rows.filter((r) => r.wall > 50).length}`);
  console.log('  slowest five (median wall / CPU / worst wall, ms):');
  for (const r of rows.slice(0, 5)) console.log(`    ${r.name.padEnd(48)} ${r.wall.toFixed(1).padStart(6)} ${r.cpu.toFixed(1).padStart(6)} ${r.worstWall.toFixed(1).padStart(6)}`);
}
