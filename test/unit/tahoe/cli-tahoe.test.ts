import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../../lambdas/cli/io';
import { main } from '../../../lambdas/cli/main';
import { dumps, type JsonOut, loads, type PyDict } from '../../../lambdas/tahoe/json';
import { float, must, normalized, readJsonl, recordInput, str } from './golden';

const ROOT = join(__dirname, '..', '..', '..');
const golden = new Map(readJsonl('records.jsonl').map((g) => [str(g, 'id'), g]));
const dir = mkdtempSync(join(tmpdir(), 'tahoe-cli-'));

function record(id: string): PyDict {
  const g = golden.get(id);
  if (!g) throw new Error(`no golden record ${id}`);
  return g;
}

async function cli(argv: string[], stdin = ''): Promise<{ code: number; out: PyDict[]; err: string }> {
  const input = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks: Buffer[] = [];
  const errs: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  stderr.on('data', (c: Buffer) => errs.push(c));
  input.end(stdin);
  const io: CliIo = { stdin: input, stdout, stderr, cwd: dir, now: () => new Date('2021-03-29T14:50:27.912Z') };
  const code = await main(argv, io);
  const text = Buffer.concat(chunks).toString('utf8');
  const out = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => loads(l) as PyDict);
  return { code, out, err: Buffer.concat(errs).toString('utf8') };
}

function args(g: PyDict, extra: string[] = []): string[] {
  return [
    'tahoe',
    '--typetag',
    str(g, 'typetag'),
    '--orgid',
    str(g, 'orgid'),
    '--timezone',
    str(g, 'timezone'),
    '--received-at',
    String(float(g, 'now')),
    ...extra,
  ];
}

/** The printed line matches the golden record in every field the golden format defines. */
function expectGolden(line: PyDict, g: PyDict): void {
  expect(line.get('outcome')).toBe(g.get('outcome'));
  expect(dumps(line.get('raw') ?? null)).toBe(dumps(g.get('raw') ?? null));
  expect(dumps(line.get('raw_after') ?? null)).toBe(dumps(g.get('raw_after') ?? null));
  expect(normalized(line.get('instances') as JsonOut)).toBe(normalized(g.get('instances') as JsonOut));
  expect(dumps(line.get('edges') ?? null)).toBe(dumps(g.get('edges') ?? null));
}

describe('cyberactive tahoe (in-process)', () => {
  it('prints a golden cowrie line read from stdin exactly as the reference computed it', async () => {
    const g = record('r0036');
    const { code, out, err } = await cli(args(g), `${str(g, 'input')}\n`);
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    expect(out[0]?.get('line')).toBe(1);
    expectGolden(out[0] as PyDict, g);
    expect(err).toMatch(/1 record\(s\): 1 ok/);
  });

  it('reads an NDJSON file record by record with line numbers, skipping blank lines, failing only bad lines', async () => {
    const lines = [
      str(record('r0033'), 'input'),
      '',
      str(record('r0296'), 'input'),
      'garbage',
      str(record('r0092'), 'input'),
    ];
    writeFileSync(join(dir, 'cowrie.json'), `${lines.join('\n')}\n`);
    const { code, out } = await cli(args(record('r0033'), ['cowrie.json']));
    expect(code).toBe(0);
    expect(out.map((o) => [o.get('line'), o.get('outcome')])).toEqual([
      [1, 'ok'],
      [3, 'error: TypeError'],
      [4, 'raw_only'],
      [5, 'ok'],
    ]);
    expect((must(out[1]).get('error') as PyDict).get('stage')).toBe('filter');
    expectGolden(out[3] as PyDict, record('r0092'));
  });

  it('reads an email file as one record', async () => {
    const g = record('r0541');
    writeFileSync(join(dir, 'mail.eml'), recordInput(g));
    const { code, out } = await cli(args(g, [join(dir, 'mail.eml')]));
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    expectGolden(out[0] as PyDict, g);
  });

  it('reads a phishing feed file as one record with one event per URL, dated at --received-at', async () => {
    const g = record('r0523');
    writeFileSync(join(dir, 'feed.txt'), recordInput(g));
    const { code, out } = await cli(args(g, ['feed.txt']));
    expect(code).toBe(0);
    expect(out).toHaveLength(1);
    expectGolden(out[0] as PyDict, g);
  });

  it('accepts --received-at as an ISO time and defaults it to the clock', async () => {
    const base = ['tahoe', '--typetag', 'sighting', '--orgid', 'o', '--timezone', 'UTC'];
    const iso = await cli([...base, '--received-at', '2021-03-29T14:50:27.912206Z'], '{"ipv4":"1.2.3.4"}\n');
    const ev = [...(must(iso.out[0]).get('instances') as PyDict).values()].find(
      (v) => (v as PyDict).get('itype') === 'event',
    );
    expect(dumps((ev as PyDict).get('timestamp') ?? null)).toBe('1617029427.912206');
    const dflt = await cli(base, '{"ipv4":"1.2.3.4"}\n');
    const ev2 = [...(must(dflt.out[0]).get('instances') as PyDict).values()].find(
      (v) => (v as PyDict).get('itype') === 'event',
    );
    expect(dumps((ev2 as PyDict).get('timestamp') ?? null)).toBe('1617029427.912');
  });

  it('reports typetags outside --enabled and over-long lines as errors and still exits 0', async () => {
    const notEnabled = await cli(
      ['tahoe', '--typetag', 'sighting', '--orgid', 'o', '--timezone', 'UTC', '--enabled', 'cowrie,email'],
      '{"ipv4":"1.2.3.4"}\n',
    );
    expect(notEnabled.code).toBe(0);
    expect(notEnabled.out[0]?.get('outcome')).toBe('error: NotSupported');
    const long = await cli(
      ['tahoe', '--typetag', 'cowrie', '--orgid', 'o', '--timezone', 'UTC', '--max-record-bytes', '64'],
      `${'x'.repeat(100)}\n{}\n`,
    );
    expect(long.code).toBe(0);
    expect(long.out.map((o) => o.get('outcome'))).toEqual(['error: RecordTooLarge', 'raw_only']);
    expect((must(long.out[0]).get('error') as PyDict).get('stage')).toBe('decode');
  });

  it.each([
    ['a missing --typetag', ['tahoe', '--orgid', 'o', '--timezone', 'UTC']],
    ['an unknown option', ['tahoe', '--typetag', 'cowrie', '--orgid', 'o', '--timezone', 'UTC', '--nope']],
    [
      'a bad --received-at',
      ['tahoe', '--typetag', 'cowrie', '--orgid', 'o', '--timezone', 'UTC', '--received-at', 'soon'],
    ],
    ['two input files', ['tahoe', '--typetag', 'cowrie', '--orgid', 'o', '--timezone', 'UTC', 'a', 'b']],
  ])('exits 2 with the usage on %s', async (_name, argv) => {
    const { code, err, out } = await cli(argv);
    expect(code).toBe(2);
    expect(err).toContain('usage: cyberactive tahoe');
    expect(out).toEqual([]);
  });

  it('exits 1 with the reason when the input file cannot be read', async () => {
    const { code, err } = await cli([
      'tahoe',
      '--typetag',
      'cowrie',
      '--orgid',
      'o',
      '--timezone',
      'UTC',
      'missing.json',
    ]);
    expect(code).toBe(1);
    expect(err).toMatch(/ENOENT|no such file/);
  });
});

describe('cyberactive tahoe (spawned)', () => {
  it('runs as a real process on a golden cowrie line', () => {
    const g = record('r0123');
    writeFileSync(join(dir, 'one.json'), `${str(g, 'input')}\n`);
    const res = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bin', 'cyberactive.ts'), ...args(g, [join(dir, 'one.json')])],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(res.stderr).toMatch(/1 ok/);
    expect(res.status).toBe(0);
    const lines = res.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expectGolden(loads(lines[0] as string) as PyDict, g);
  });
});
