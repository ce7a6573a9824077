/**
 * Streaming Parquet part writer: rows per second and peak RSS, for 1,000,000 tahoe_instance-like rows and for
 * tahoe_raw rows with about 500 bytes of JSON each, in parts of 100,000 rows (one core).
 *
 * Rows are generated on the fly from a seeded PRNG and never held as a whole, so the resident set shows what the
 * writer itself keeps: one part of column arrays plus its encoding. The same run with a tenth of the rows shows
 * that the peak does not grow with the input. A generation-only pass gives the floor the writer's cost adds to;
 * hyparquet-writer's own file writer (data page v2) on the same column arrays is a reference for the encoder.
 */
import { createHash } from 'node:crypto';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { createPartWriter } from '../../lambdas/parquet/part-writer';
import type { TableName, TahoeInstanceRecord, TahoeRawRecord } from '../../lambdas/schema/tables';

const ROWS = Number(process.env.PARQUET_BENCH_ROWS ?? 1_000_000);
const ROWS_PER_PART = 100_000;

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
// A pool of hashes, so generation does not dominate: the writer sees 64-hex strings either way.
const HASHES = Array.from({ length: 50_000 }, (_, i) => sha(`h${i}`));
const ORG = sha('org');
const SUB_TYPES = ['ipv4', 'port', 'username', 'password', 'command', 'url', 'sha256', 'login', 'ssh_session'];

function* instanceRows(n: number): Generator<TahoeInstanceRecord> {
  const rand = mulberry32(7);
  for (let i = 0; i < n; i++) {
    const r = rand();
    const hash = HASHES[i % HASHES.length] as string;
    const sub = SUB_TYPES[Math.floor(r * SUB_TYPES.length)] as string;
    if (r < 0.6) {
      yield {
        tenant: 'demo-public',
        _hash: hash,
        itype: 'attribute',
        sub_type: sub,
        data: `"203.0.${i % 256}.${Math.floor(r * 256)}"`,
        orgid: null,
        event_ts: null,
        category: null,
        start_time: null,
        end_time: null,
        duration: null,
      };
    } else if (r < 0.9) {
      yield {
        tenant: 'demo-public',
        _hash: hash,
        itype: 'event',
        sub_type: 'login',
        data: `{"attacker":[{"ipv4":["203.0.113.${i % 256}"]}],"credential":[{"password":["p${i % 97}"],"username":["root"]}],"method":["ssh"],"success":[false]}`,
        orgid: ORG,
        event_ts: 1614600000 + i / 1000,
        category: 'malicious',
        start_time: null,
        end_time: null,
        duration: null,
      };
    } else {
      yield {
        tenant: 'demo-public',
        _hash: hash,
        itype: r < 0.95 ? 'object' : 'session',
        sub_type: r < 0.95 ? 'ssh_client' : 'ssh_session',
        data: `{"session":["s${i}"],"sensor":["lv-ssh-01"]}`,
        orgid: null,
        event_ts: null,
        category: null,
        start_time: r < 0.95 ? null : 1614600000 + i / 1000,
        end_time: null,
        duration: null,
      };
    }
  }
}

function* rawRows(n: number): Generator<TahoeRawRecord> {
  const rand = mulberry32(11);
  const pad = 'x'.repeat(400);
  for (let i = 0; i < n; i++) {
    const ip = `203.0.${i % 256}.${Math.floor(rand() * 256)}`;
    yield {
      tenant: 'demo-public',
      object_sha256: HASHES[Math.floor(i / 10_000)] as string,
      record_no: i,
      _hash: HASHES[i % HASHES.length] as string,
      sub_type: 'cowrie',
      timezone: 'America/New_York',
      received_at: '2021-03-01T12:00:05.123Z',
      object_key: 'raw/tenant=demo-public/typetag=cowrie/dt=2021-03-01/hour=12/01JN0000000000000000000000.raw',
      // ~500 bytes of JSON text, varied enough that compression is not trivial.
      data: `{"eventid":"cowrie.command.input","input":"${pad.slice(0, 300 + (i % 100))}","session":"${i.toString(16)}","src_ip":"${ip}","timestamp":"2021-03-01T12:00:${String(i % 60).padStart(2, '0')}.${String(i % 1000000).padStart(6, '0')}Z"}`,
    };
  }
}

const gc = () => (globalThis as { gc?: () => void }).gc?.();

interface Result {
  rows: number;
  seconds: number;
  parts: number;
  bytes: number;
  baseRss: number;
  peakRss: number;
  genSeconds: number;
}

async function run(table: TableName, make: (n: number) => Iterable<object>, n: number): Promise<Result> {
  // Floor: generating the rows alone.
  let t = performance.now();
  let sink = 0;
  for (const row of make(n)) sink += (row as { tenant: string }).tenant.length;
  const genSeconds = (performance.now() - t) / 1000;
  if (sink === -1) process.stderr.write('unreachable\n');

  gc();
  const baseRss = process.memoryUsage().rss;
  let peakRss = baseRss;
  let bytes = 0;
  const writer = createPartWriter(table, {
    rowsPerPart: ROWS_PER_PART,
    // Parts of exactly ROWS_PER_PART rows: the default byte limit (64 MiB) would cut the raw parts at ~80,000 rows.
    maxPartBytes: 256 * 2 ** 20,
    onPart: (_partNo, part) => {
      bytes += part.byteLength;
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    },
  });
  t = performance.now();
  let i = 0;
  for (const row of make(n)) {
    await writer.add(row as never);
    if (++i % 10_000 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }
  const { parts, rows } = await writer.end();
  const seconds = (performance.now() - t) / 1000;
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  return { rows, seconds, parts, bytes, baseRss, peakRss, genSeconds };
}

/**
 * Live memory at each hand-over, after a full GC: what the writer really holds (one part's columns and its
 * encoding), free of the garbage that RSS also counts. Untimed, since the GCs take time.
 */
async function liveMemory(table: TableName, make: (n: number) => Iterable<object>, n: number): Promise<number> {
  let peak = 0;
  const writer = createPartWriter(table, {
    rowsPerPart: ROWS_PER_PART,
    maxPartBytes: 256 * 2 ** 20,
    onPart: () => {
      gc();
      const m = process.memoryUsage();
      peak = Math.max(peak, m.heapUsed + m.external);
    },
  });
  for (const row of make(n)) await writer.add(row as never);
  await writer.end();
  return peak;
}

/** hyparquet-writer's parquetWriteBuffer (data page v2) on one part's worth of column arrays, as a reference. */
function reference(make: (n: number) => Iterable<object>, columns: string[]): number {
  const data: Record<string, unknown[]> = Object.fromEntries(columns.map((c) => [c, []]));
  for (const row of make(ROWS_PER_PART)) {
    for (const c of columns) (data[c] as unknown[]).push((row as Record<string, unknown>)[c]);
  }
  const t = performance.now();
  parquetWriteBuffer({
    columnData: columns.map((name) => ({ name, data: data[name] as string[] })),
    rowGroupSize: ROWS_PER_PART,
  });
  return ROWS_PER_PART / ((performance.now() - t) / 1000);
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const mib = (x: number) => (x / 2 ** 20).toFixed(0);

(async () => {
  const scenarios = [
    {
      title: 'tahoe_instance-like (11 columns, 60% attributes, 30% events)',
      table: 'tahoe_instance' as const,
      make: instanceRows,
    },
    { title: 'tahoe_raw, ~500-byte data', table: 'tahoe_raw' as const, make: rawRows },
  ];
  const lines = [
    '## Parquet part writer: rows per second and peak RSS (one core)',
    '',
    `Parts of ${fmt(ROWS_PER_PART)} rows (data page v1, SNAPPY, dictionary where it pays), best of 2 rounds; rows generated on the ` +
      'fly and dropped once written. RSS is sampled every 10,000 rows and at every part, after a GC at the start ' +
      '(it also counts garbage not yet collected). Live heap: V8 heap + external memory after a full GC at each ' +
      'hand-over (a separate, untimed pass), i.e. what the writer holds with one full part and its encoding.',
    '',
    '| rows | table | rows/s (writer) | rows/s (generation only) | parts | MiB out | bytes/row | RSS at start MiB | peak RSS MiB | live heap at hand-over MiB |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const refs: string[] = [];
  for (const s of scenarios) {
    for (const n of [ROWS / 10, ROWS]) {
      // Best of two timed rounds (the first also warms the JIT up); peak RSS is the larger of the two.
      gc();
      const a = await run(s.table, s.make, n);
      gc();
      const b = await run(s.table, s.make, n);
      const r = a.seconds <= b.seconds ? a : b;
      const peakRss = Math.max(a.peakRss, b.peakRss);
      gc();
      const live = await liveMemory(s.table, s.make, n);
      lines.push(
        `| ${fmt(r.rows)} | ${s.title} | ${fmt(r.rows / r.seconds)} | ${fmt(n / r.genSeconds)} | ${r.parts} | ` +
          `${mib(r.bytes)} | ${(r.bytes / r.rows).toFixed(0)} | ${mib(r.baseRss)} | ${mib(peakRss)} | ${mib(live)} |`,
      );
    }
    gc();
    const columns =
      s.table === 'tahoe_raw'
        ? ['tenant', 'object_sha256', '_hash', 'sub_type', 'data']
        : ['tenant', '_hash', 'itype', 'sub_type', 'data'];
    refs.push(`| ${s.table} (${columns.join(', ')}) | ${fmt(reference(s.make, columns))} |`);
  }
  lines.push(
    '',
    'Reference, one part of the string columns only: hyparquet-writer `parquetWriteBuffer` (DATA_PAGE_V2, its own ' +
      'file layout) on the same values, column arrays prepared beforehand.',
    '',
    '| table (columns) | rows/s |',
    '|---|---:|',
    ...refs,
    '',
  );
  process.stdout.write(`${lines.join('\n')}\n`);
})();
