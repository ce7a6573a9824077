/**
 * Benchmark runner: `npm run bench [-- name-filter…]`.
 * Runs every test/bench/*.bench.ts in its own Node process (so peak RSS figures are not shared between benches),
 * collects the Markdown each prints on stdout, and writes bench-report.md with the machine's description.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

const dir = __dirname;
const filters = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

const cpu = cpus()[0]?.model ?? 'unknown CPU';
const sections: string[] = [
  '# cyberactive benchmark report',
  '',
  `- date: ${new Date().toISOString()}`,
  `- node: ${process.version} (${process.arch})`,
  `- machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
  '',
];
let failed = 0;
for (const file of benches) {
  process.stderr.write(`bench: ${file}\n`);
  const res = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(dir, file)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) {
    failed++;
    sections.push(`## ${file}`, '', `FAILED with exit status ${res.status}`, '');
  } else {
    sections.push(res.stdout.trim(), '');
  }
}
const report = sections.join('\n');
writeFileSync('bench-report.md', report);
process.stdout.write(`${report}\n`);
process.exitCode = failed === 0 ? 0 : 1;
