/**
 * The file twin shared by separate processes, as the local runtime uses it: two workers racing for the same
 * objects, and a worker killed mid-object whose object another process takes over.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { LeaseLostError, ZERO_COUNTS } from '../../../lambdas/ledger';

const ROOT = resolve(__dirname, '../../..');
const WORKER = join(__dirname, 'begin-worker.ts');
const T0 = Date.parse('2024-05-01T10:00:00.000Z');
const OBJECTS = 40;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cyberactive-ledger-procs-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Worker {
  readonly child: ChildProcessWithoutNullStreams;
  readonly lines: string[];
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function worker(...args: string[]): Worker {
  // Node itself (with tsx as a loader), not the tsx launcher, so that a signal reaches us as it killed the worker.
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dir, ...args], { cwd: ROOT });
  const lines: string[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => {
    markReady = r;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line === 'ready') markReady();
    else lines.push(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((r) =>
    child.on('close', (code, signal) => r({ code, signal, stderr })),
  );
  return { child, lines, ready, exited };
}

const ref = (i: number) => ({ bucket: 'raw-bucket', key: `raw/object-${i}`, versionId: 'v1' });

describe('file ledger across processes', () => {
  it('lets exactly one of two processes acquire each object they race for', async () => {
    const a = worker('proc-a', String(OBJECTS), String(T0), 'race');
    const b = worker('proc-b', String(OBJECTS), String(T0), 'race');
    await Promise.all([a.ready, b.ready]);
    a.child.stdin.end('go\n');
    b.child.stdin.end('go\n');
    const [ea, eb] = await Promise.all([a.exited, b.exited]);
    expect(ea).toMatchObject({ code: 0, stderr: '' });
    expect(eb).toMatchObject({ code: 0, stderr: '' });

    const answers = [
      ...a.lines.map((l) => ({ owner: 'proc-a', ...JSON.parse(l) })),
      ...b.lines.map((l) => ({ owner: 'proc-b', ...JSON.parse(l) })),
    ];
    expect(answers).toHaveLength(2 * OBJECTS);
    const ledger = LocalLedger.atPath(dir);
    for (let i = 0; i < OBJECTS; i++) {
      const mine = answers.filter((x) => x.i === i);
      const acquired = mine.filter((x) => x.kind === 'acquired');
      expect({ i, acquired: acquired.length, busy: mine.filter((x) => x.kind === 'busy').length }).toEqual({
        i,
        acquired: 1,
        busy: 1,
      });
      expect(await ledger.get(ref(i))).toMatchObject({ owner: acquired[0]?.owner, attempts: 1 });
    }
  });

  it('hands the object of a killed worker process to another once its lease expires', async () => {
    const crashed = worker('proc-dead', '7', String(T0), 'crash');
    const exit = await crashed.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(JSON.parse(crashed.lines[0] as string)).toMatchObject({ kind: 'acquired', attempt: 1 });

    const ledger = LocalLedger.atPath(dir);
    const meta = { tenant: 'acme', typetag: 'cowrie', size: 1, receivedAt: new Date(T0) };
    const early = await ledger.begin(ref(7), { owner: 'proc-next', now: new Date(T0 + 1000), leaseMs: 60_000, meta });
    expect(early).toMatchObject({ kind: 'busy' });
    const late = await ledger.begin(ref(7), { owner: 'proc-next', now: new Date(T0 + 60_000), leaseMs: 60_000, meta });
    expect(late).toMatchObject({ kind: 'acquired', attempt: 2, takenOver: true });
    const result = { outcome: 'ERROR' as const, reason: 'test', counts: ZERO_COUNTS, outputs: { curated: [] } };
    await expect(ledger.complete(ref(7), 'proc-dead', result, new Date(T0 + 61_000))).rejects.toBeInstanceOf(
      LeaseLostError,
    );
  });
});
