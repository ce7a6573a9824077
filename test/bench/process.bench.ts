/**
 * The process core end to end, per core: an esdk-sealed, gzip-compressed Cowrie upload of 10 MiB, 100 MiB and 1 GiB
 * (plaintext size; ~1% bad lines) goes through processObject — hash pass, decryption, gunzip, splitting, parsemain,
 * rows, three Parquet part writers staging to disk, quarantine, create-only upload to a folder object store, the
 * in-memory ledger. Files are generated streaming into a temporary folder (sample-logs + the esdk sealer) and
 * deleted afterwards.
 *
 * Each measurement runs in a child process of its own, so that one run's heap does not colour the next, with the
 * V8 heap capped (`--max-old-space-size`) as a memory-limited function has it: without a cap, V8 on a large machine
 * grows the heap lazily to several times the live data before collecting, and RSS then says more about the machine
 * than about the code. One uncapped run of the 100 MiB file shows that difference.
 *
 * Reported: records/s and plaintext MB/s on the wall clock and per CPU-second (process.cpuUsage: the child's user
 * + system time, GC and libuv threads included, time spent waiting for a core on a shared machine excluded), peak
 * RSS (sampled every 20 ms) and the Parquet output. A breakdown on the first file shows where the time goes.
 *
 * `PROCESS_BENCH_SIZES=10,100` (MiB) runs a subset. Run with `npm run bench -- process`.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FsObjectStore } from '../../lambdas/adapters/fs-object-store';
import { LocalKeyUnwrapper, localKeyArn } from '../../lambdas/adapters/local-key-unwrapper';
import { LocalLedger } from '../../lambdas/adapters/local-ledger';
import { openEnvelope, sealEnvelope } from '../../lambdas/envelope/envelope';
import { cowrieLines } from '../../lambdas/local/sample-logs';
import type { ProcessDeps } from '../../lambdas/process/ports';
import { processObject } from '../../lambdas/process/process-object';
import { rawKey } from '../../lambdas/shared/s3-keys';
import { parsemain } from '../../lambdas/tahoe/parsemain';
import { RecordSplitter } from '../../lambdas/tahoe/records';
import { toRows } from '../../lambdas/tahoe/rows';

const MiB = 1024 * 1024;
const SIZES = (process.env.PROCESS_BENCH_SIZES ?? '10,100,1024').split(',').map((s) => Number(s) * MiB);
/** The heap cap of the measured runs: what a 512 MiB function leaves the JavaScript heap. */
const HEAP_CAP_MIB = 320;
const TARGET_RECORDS_PER_CPU_S = 20_000;
const TARGET_PEAK_MIB = 512;
const TENANT = 'bench';
const ORGID = 'b'.repeat(64);
const RECEIVED = new Date('2026-11-01T12:00:00.000Z');
const CONTEXT = { tenant: TENANT, typetag: 'cowrie' };

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const rssMiB = () => process.memoryUsage.rss() / MiB;
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

/** About `size` bytes of Cowrie lines (whole lines), in ~256 KiB chunks, generated as they are read. */
function cowriePlaintext(size: number, seed: number): Readable {
  const lines = cowrieLines({ lines: Number.MAX_SAFE_INTEGER, seed, badShare: 0.01 });
  let produced = 0;
  return Readable.from(
    (function* () {
      while (produced < size) {
        const batch: string[] = [];
        let bytes = 0;
        while (bytes < 256 * 1024 && produced + bytes < size) {
          const line = lines.next().value as string;
          batch.push(line);
          bytes += Buffer.byteLength(line) + 1;
        }
        produced += bytes;
        yield Buffer.from(`${batch.join('\n')}\n`);
      }
    })(),
    { objectMode: false },
  );
}

interface Measured {
  seconds: number;
  cpuSeconds: number;
  peakMiB: number;
}

async function measured(fn: () => Promise<void>): Promise<Measured> {
  let peak = rssMiB();
  const timer = setInterval(() => {
    peak = Math.max(peak, rssMiB());
  }, 20);
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  const used = process.cpuUsage(cpu);
  return {
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    cpuSeconds: (used.user + used.system) / 1e6,
    peakMiB: Math.max(peak, rssMiB()),
  };
}

/** What a child reports on stdout. */
interface ChildResult extends Measured {
  records: number;
  quarantined: number;
  parts: number;
  parquetBytes: number;
  rssBeforeMiB: number;
  breakdown?: [string, number][];
}

interface Job {
  readonly root: string;
  readonly key: string;
  readonly keyPem: string;
  readonly stored: number;
  readonly breakdown: boolean;
}

function depsFor(job: Job, unwrapper: LocalKeyUnwrapper, keyArn: string, store: FsObjectStore): ProcessDeps {
  return {
    store,
    ledger: LocalLedger.inMemory(),
    events: { publish: async () => {} },
    tenants: {
      get: async () => ({ tenant: TENANT, orgid: ORGID, typetags: ['cowrie'], envelope: 'esdk', retentionDays: 30 }),
    },
    unwrapper,
    allowedKeyArns: [keyArn],
    enabledTypetags: new Set(['cowrie']),
    buckets: { curated: 'curated', quarantine: 'quarantine' },
    // The deployment's default rows per part (docs/operations.md); part bytes and de-duplication at the core's defaults.
    limits: { rowsPerPart: 100_000, maxRecordBytes: MiB, maxAttempts: 3, leaseMs: 15 * 60_000 },
    workDir: join(job.root, 'work'),
    owner: `bench-${process.pid}`,
    clock: () => new Date(),
  };
}

/** In the child: process the object once and report. */
async function child(job: Job): Promise<void> {
  const unwrapper = new LocalKeyUnwrapper([job.keyPem]);
  const [held] = unwrapper.list();
  const keyArn = held?.keyArn ?? '';
  const store = new FsObjectStore(job.root);
  const deps = depsFor(job, unwrapper, keyArn, store);
  const breakdown = job.breakdown ? await stages(store, job.key, deps) : undefined;
  gc();
  const rssBeforeMiB = rssMiB();
  let records = 0;
  let quarantined = 0;
  let outputs: string[] = [];
  const run = await measured(async () => {
    const outcome = await processObject(
      { ref: { bucket: 'raw', key: job.key, versionId: 'null' }, size: job.stored, eventTime: RECEIVED },
      deps,
    );
    if (outcome.status !== 'processed') throw new Error(`object not processed: ${outcome.status}`);
    records = outcome.item.counts?.recordsIn ?? 0;
    quarantined = outcome.item.counts?.quarantined ?? 0;
    outputs = [...(outcome.item.outputs?.curated ?? [])];
  });
  let parquetBytes = 0;
  for (const k of outputs) parquetBytes += (await store.head('curated', k))?.size ?? 0;
  const result: ChildResult = { ...run, records, quarantined, parts: outputs.length, parquetBytes, rssBeforeMiB };
  if (breakdown) result.breakdown = breakdown;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** Runs `child` in a process of its own, with or without a heap cap. */
function spawnChild(job: Job, heapCapMiB: number | undefined): ChildResult {
  const args = [
    ...process.execArgv,
    ...(heapCapMiB === undefined ? [] : [`--max-old-space-size=${heapCapMiB}`]),
    __filename,
    '--child',
    JSON.stringify(job),
  ];
  const res = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (res.status !== 0) throw new Error(`bench child failed with status ${res.status} (heap cap ${heapCapMiB} MiB)`);
  return JSON.parse(res.stdout.trim().split('\n').at(-1) as string) as ChildResult;
}

/** The first stages of the core alone, on the same object, to show what each costs. */
async function stages(store: FsObjectStore, key: string, deps: ProcessDeps): Promise<[string, number][]> {
  const options = { unwrapper: deps.unwrapper, allowedKeyArns: deps.allowedKeyArns, expectedContext: CONTEXT };
  const pass = async (parse: boolean): Promise<number> => {
    let n = 0;
    const splitter = new RecordSplitter('ndjson');
    const opts = { receivedAt: RECEIVED };
    const ctx = {
      tenant: TENANT,
      objectSha256: ORGID,
      recordNo: 0,
      objectKey: key,
      receivedAt: RECEIVED.toISOString(),
      timezone: 'UTC',
      orgid: ORGID,
    };
    const handle = (rec: ReturnType<RecordSplitter['push']>[number]) => {
      n++;
      if (!parse || 'tooLarge' in rec) return;
      toRows(parsemain('cowrie', ORGID, 'UTC', rec.bytes, opts), { ...ctx, recordNo: rec.recordNo });
    };
    const body = (await store.get('raw', key)).body;
    for await (const chunk of openEnvelope('esdk', body, { ...options, gzip: true }) as AsyncIterable<Buffer>) {
      for (const rec of splitter.push(chunk)) handle(rec);
    }
    for (const rec of splitter.end()) handle(rec);
    return n;
  };
  const out: [string, number][] = [];
  for (const [label, parse] of [
    ['decrypt + gunzip + split', false],
    ['+ parsemain + Cowrie filter + toRows', true],
  ] as const) {
    let n = 0;
    gc();
    const m = await measured(async () => {
      n = await pass(parse);
    });
    out.push([label, n / m.cpuSeconds]);
  }
  return out;
}

function row(size: number, stored: number, cap: string, r: ChildResult): string {
  return (
    `| ${fmt(size / MiB)} MiB | ${fmt(stored / MiB, 1)} MiB | ${cap} | ${fmt(r.records)} | ${fmt(r.quarantined)} | ` +
    `${fmt(r.seconds, 1)} | ${fmt(r.cpuSeconds, 1)} | ${fmt(r.records / r.seconds)} | ${fmt(r.records / r.cpuSeconds)} | ` +
    `${fmt(size / 1e6 / r.seconds, 1)} | ${fmt(size / 1e6 / r.cpuSeconds, 1)} | ${fmt(r.rssBeforeMiB)} | ` +
    `${fmt(r.peakMiB)} | ${r.parts} | ${fmt(r.parquetBytes / MiB, 1)} MiB |`
  );
}

async function main(): Promise<void> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
  const keyArn = localKeyArn(publicKey);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const dir = await mkdtemp(join(tmpdir(), 'cyberactive-process-bench-'));
  await writeFile(join(dir, 'README'), 'process.bench.ts scratch space; removed when the bench ends\n');
  const startLoad = loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
  const rows: string[] = [];
  let breakdown: [string, number][] = [];
  let worstRate = Number.POSITIVE_INFINITY;
  let worstPeak = 0;
  try {
    for (const [i, size] of SIZES.entries()) {
      const root = join(dir, `objects-${i}`);
      const store = new FsObjectStore(root);
      const key = rawKey({
        tenant: TENANT,
        typetag: 'cowrie',
        receivedAt: RECEIVED,
        uploadId: `01JBENCH0000000000000000${String(i).padStart(2, '0')}`,
        envelope: 'esdk',
        gzip: true,
      });
      const gen = await measured(async () => {
        await store.putIfAbsent(
          'raw',
          key,
          sealEnvelope('esdk', cowriePlaintext(size, 1000 + i), { keyArn, publicKey, context: CONTEXT, gzip: true }),
        );
      });
      const stored = (await store.head('raw', key))?.size ?? 0;
      process.stderr.write(`process bench: generated ${size / MiB} MiB in ${gen.seconds.toFixed(1)} s\n`);
      const job: Job = { root, key, keyPem, stored, breakdown: i === 0 };
      const capped = spawnChild(job, HEAP_CAP_MIB);
      if (capped.breakdown) breakdown = capped.breakdown;
      worstRate = Math.min(worstRate, capped.records / capped.cpuSeconds);
      worstPeak = Math.max(worstPeak, capped.peakMiB);
      rows.push(row(size, stored, `${HEAP_CAP_MIB} MiB`, capped));
      process.stderr.write(`process bench: ${size / MiB} MiB: ${rows.at(-1)}\n`);
      if (size === 100 * MiB) {
        rows.push(row(size, stored, 'none (V8 default)', spawnChild({ ...job, breakdown: false }, undefined)));
        process.stderr.write(`process bench: ${size / MiB} MiB uncapped: ${rows.at(-1)}\n`);
      }
      await rm(root, { recursive: true, force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const lines = [
    '## Process core end to end (process.bench.ts)',
    '',
    'esdk-sealed (RSA-4096 key unwrapped locally), gzip-compressed Cowrie uploads with ~1% bad lines, processed by',
    '`processObject` on a folder object store and the in-memory ledger (100,000 rows per part, parts closed at',
    '8 MiB of values, the core defaults otherwise), each run in a child process of its own. One core; MB = 10^6',
    'bytes of plaintext; CPU-s = user + system time of the child (GC included). RSS in MiB, sampled every 20 ms.',
    `Load average at start: ${startLoad} (a shared machine: wall figures are noisy, CPU figures less so).`,
    '',
    '| plaintext | stored | V8 heap cap | records | quarantined | wall s | CPU s | records/s (wall) | records per CPU-s | MB/s (wall) | MB per CPU-s | RSS before | peak RSS | parts | Parquet out |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Throughput target ≥ ${fmt(TARGET_RECORDS_PER_CPU_S)} records per CPU-second: ` +
      `${worstRate >= TARGET_RECORDS_PER_CPU_S ? 'met' : 'NOT met'} (slowest size: ${fmt(worstRate)}).`,
    `Memory target: peak RSS under ${TARGET_PEAK_MIB} MiB at every size (heap capped at ${HEAP_CAP_MIB} MiB): ` +
      `${worstPeak < TARGET_PEAK_MIB ? 'met' : 'NOT met'} (highest: ${fmt(worstPeak)} MiB).`,
    '',
    'Where the time goes, on the first file (records per CPU-second, each stage including those before it):',
    '',
    '| stages | records per CPU-s |',
    '| --- | ---: |',
    ...breakdown.map(([label, rate]) => `| ${label} | ${fmt(rate)} |`),
    '| + de-duplication, Parquet, quarantine, hash pass, upload, ledger: `processObject` | the table above |',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const childAt = process.argv.indexOf('--child');
(childAt >= 0 ? child(JSON.parse(process.argv[childAt + 1] as string) as Job) : main()).catch((err: unknown) => {
  process.stderr.write(`process bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
