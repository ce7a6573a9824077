/**
 * The local twin of the DynamoDB ledger: the same pure transitions (lambdas/ledger/transitions.ts) applied under
 * compare-and-swap, over a store that is either in memory (unit tests) or a folder of JSON files (the local runtime,
 * shared by every process on the machine).
 *
 * Why compare-and-swap rather than a lock: it is what DynamoDB's conditional writes give (read, decide, write only
 * if nobody wrote in between, else decide again), and on files it needs no lock that a crashed process could leave
 * behind. The file store keeps each item as a series of version files, `items/<id>/<version>.json`; a version is
 * written to a temporary file, flushed, and published with `link()`, which fails if that version already exists —
 * atomic and exclusive on every local file system, across processes. The highest version is the item. See
 * `FileLedgerStore.write` for how old versions are collected without ever letting a slow writer reuse one.
 */
import { createHash, randomUUID } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptLedgerItemError, InvalidCursorError } from '../ledger/errors';
import {
  assertLeaseMs,
  assertLoadId,
  assertMaxAttempts,
  assertMeta,
  assertOwner,
  assertPageSize,
  assertProofBatch,
  assertQuerySha256,
  assertQueryTenant,
  assertRef,
  assertRefs,
  assertResult,
  assertTime,
} from '../ledger/invariants';
import {
  type BeginOptions,
  type BeginResult,
  DEFAULT_PAGE_SIZE,
  type HeartbeatResult,
  type LedgerItem,
  type LedgerPage,
  type ListOptions,
  type MarkLoadedResult,
  type MarkNotarisedResult,
  type ObjectMeta,
  type ObjectRef,
  type ProcessingResult,
  type ReceiveResult,
} from '../ledger/model';
import type { Ledger } from '../ledger/port';
import { fromRecord, type LedgerRecord, partitionKey, toRecord } from '../ledger/record';
import {
  beginTransition,
  completeTransition,
  heartbeatTransition,
  markLoadedTransition,
  markNotarisedTransition,
  receiveTransition,
  type Transition,
} from '../ledger/transitions';
import { ConfigError, TransientError } from '../shared/errors';

/** A stored item and the version it was read at; writes name the version they replace. */
export interface Versioned {
  readonly version: number;
  readonly record: LedgerRecord;
}

/** Where a twin keeps its items: read, compare-and-swap write, and a full scan (the local scale is small). */
export interface LedgerStore {
  read(ref: ObjectRef): Promise<Versioned | undefined>;
  /** Stores `record` as version `expected + 1` unless the item is no longer at `expected` (0: absent). */
  write(ref: ObjectRef, expected: number, record: LedgerRecord): Promise<boolean>;
  scan(): Promise<LedgerRecord[]>;
}

const MAX_CAS_ROUNDS = 100;

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** Items in memory, for unit tests. Values are copied in and out, as a real store would. */
export class MemoryLedgerStore implements LedgerStore {
  private readonly items = new Map<string, Versioned>();

  private static id(ref: ObjectRef): string {
    return JSON.stringify([ref.bucket, ref.key, ref.versionId]);
  }

  async read(ref: ObjectRef): Promise<Versioned | undefined> {
    const v = this.items.get(MemoryLedgerStore.id(ref));
    return v && { version: v.version, record: structuredClone(v.record) };
  }

  async write(ref: ObjectRef, expected: number, record: LedgerRecord): Promise<boolean> {
    const id = MemoryLedgerStore.id(ref);
    // No await between the check and the set: the event loop makes this atomic.
    if ((this.items.get(id)?.version ?? 0) !== expected) return false;
    this.items.set(id, { version: expected + 1, record: structuredClone(record) });
    return true;
  }

  async scan(): Promise<LedgerRecord[]> {
    return [...this.items.values()].map((v) => structuredClone(v.record));
  }
}

const VERSION_FILE = /^(\d{12})\.json$/;
const versionFile = (v: number) => `${String(v).padStart(12, '0')}.json`;

/** Items as version files under a folder; safe for several processes on one machine. */
export class FileLedgerStore implements LedgerStore {
  private readonly itemsDir: string;
  private readonly tmpDir: string;
  private ready: Promise<void> | undefined;

  constructor(readonly dir: string) {
    this.itemsDir = join(dir, 'items');
    this.tmpDir = join(dir, 'tmp');
  }

  /** Item folders are named by a hash of the reference: keys hold `/` and can exceed a file name's length. */
  private itemDir(ref: ObjectRef): string {
    const id = createHash('sha256')
      .update(JSON.stringify([ref.bucket, ref.key, ref.versionId]))
      .digest('hex');
    return join(this.itemsDir, id);
  }

  private init(): Promise<void> {
    this.ready ??= Promise.all([
      mkdir(this.itemsDir, { recursive: true }),
      mkdir(this.tmpDir, { recursive: true }),
    ]).then(() => undefined);
    return this.ready;
  }

  private static async versions(dir: string): Promise<number[] | undefined> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return undefined;
      throw err;
    }
    return names.flatMap((n) => {
      const m = VERSION_FILE.exec(n);
      return m ? [Number(m[1])] : [];
    });
  }

  async read(ref: ObjectRef): Promise<Versioned | undefined> {
    return this.readDir(this.itemDir(ref));
  }

  private async readDir(dir: string): Promise<Versioned | undefined> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const versions = await FileLedgerStore.versions(dir);
      if (!versions || versions.length === 0) return undefined;
      const version = Math.max(...versions);
      const file = join(dir, versionFile(version));
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (err) {
        // Superseded and collected between the listing and the read: list again.
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      try {
        return { version, record: JSON.parse(text) as LedgerRecord };
      } catch (err) {
        // Versions are published complete (flushed, then linked), so this is damage, not a write in progress.
        throw new CorruptLedgerItemError(`ledger file ${file} is not JSON`, { cause: err });
      }
    }
    throw new TransientError(`ledger item under ${dir} kept changing while being read`);
  }

  /**
   * Publishes version `expected + 1` with `link()` (fails if it exists). After a successful write, versions older
   * than `expected` are deleted: readers in flight may still be opening `expected`, never anything older.
   *
   * A slow writer could try to publish a version number that was already published and deleted; `link()` would
   * then succeed. That cannot go unnoticed: version k is only deleted by the writer of k + 2 or later, and the
   * latest version is never deleted, so a newer version is always there to see. Seeing one, the writer withdraws its
   * file and reports a conflict. (It may also see a newer version that was legitimately built on its own write, and
   * then reports a conflict for a write that took effect; the caller decides again on the current state, and every
   * transition answers a repeated request the same way as the first — see transitions.ts — so nothing changes.)
   */
  async write(ref: ObjectRef, expected: number, record: LedgerRecord): Promise<boolean> {
    await this.init();
    const dir = this.itemDir(ref);
    await mkdir(dir, { recursive: true });
    const tmp = join(this.tmpDir, `${randomUUID()}.json`);
    const target = join(dir, versionFile(expected + 1));
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(record));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await link(tmp, target);
    } catch (err) {
      if (isErrno(err, 'EEXIST')) return false;
      if (isErrno(err, 'EPERM') || isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) {
        throw new ConfigError(`the ledger folder ${this.dir} must be on a file system with hard links`);
      }
      throw err;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    const versions = (await FileLedgerStore.versions(dir)) ?? [];
    if (versions.some((v) => v > expected + 1)) {
      await unlink(target).catch(() => undefined);
      return false;
    }
    await Promise.all(
      versions.filter((v) => v < expected).map((v) => unlink(join(dir, versionFile(v))).catch(() => undefined)),
    );
    return true;
  }

  async scan(): Promise<LedgerRecord[]> {
    let ids: string[];
    try {
      ids = await readdir(this.itemsDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const out: LedgerRecord[] = [];
    // A few at a time: enough to hide latency, not so many as to run out of file descriptors.
    for (let i = 0; i < ids.length; i += 32) {
      const batch = await Promise.all(ids.slice(i, i + 32).map((id) => this.readDir(join(this.itemsDir, id))));
      for (const v of batch) if (v) out.push(v.record);
    }
    return out;
  }
}

interface Position {
  readonly receivedAt: string;
  readonly pk: string;
  readonly sk: string;
}

function comparePosition(a: Position, b: Position): number {
  if (a.receivedAt !== b.receivedAt) return a.receivedAt < b.receivedAt ? -1 : 1;
  if (a.pk !== b.pk) return a.pk < b.pk ? -1 : 1;
  if (a.sk !== b.sk) return a.sk < b.sk ? -1 : 1;
  return 0;
}

function positionOf(item: LedgerItem): Position {
  return { receivedAt: item.receivedAt.toISOString(), pk: partitionKey(item.ref), sk: item.ref.versionId };
}

function encodeCursor(tenant: string, p: Position): string {
  return Buffer.from(JSON.stringify({ t: tenant, r: p.receivedAt, p: p.pk, s: p.sk })).toString('base64url');
}

function decodeCursor(tenant: string, cursor: string): Position {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('malformed ledger cursor');
  }
  const o = c as Record<string, unknown>;
  if (typeof o !== 'object' || o === null || [o.t, o.r, o.p, o.s].some((x) => typeof x !== 'string')) {
    throw new InvalidCursorError('malformed ledger cursor');
  }
  if (o.t !== tenant) throw new InvalidCursorError('ledger cursor of another tenant');
  return { receivedAt: o.r as string, pk: o.p as string, sk: o.s as string };
}

/** The local ledger: in memory (`LocalLedger.inMemory()`) or under a data folder (`LocalLedger.atPath(dir)`). */
export class LocalLedger implements Ledger {
  constructor(private readonly store: LedgerStore) {}

  static inMemory(): LocalLedger {
    return new LocalLedger(new MemoryLedgerStore());
  }

  /** Items under `dir` (e.g. `<data folder>/ledger`), shared by every process that opens the same folder. */
  static atPath(dir: string): LocalLedger {
    return new LocalLedger(new FileLedgerStore(dir));
  }

  /** Read, decide, write if unchanged; on a lost race decide again on what the winner wrote. */
  private async mutate<R>(ref: ObjectRef, decide: (current: LedgerItem | undefined) => Transition<R>): Promise<R> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const current = await this.store.read(ref);
      const t = decide(current && fromRecord(current.record));
      if (!t.write) return t.result;
      if (await this.store.write(ref, current?.version ?? 0, toRecord(t.write))) return t.result;
    }
    throw new TransientError(`ledger item ${partitionKey(ref)} is contended; try again`);
  }

  async receive(ref: ObjectRef, meta: ObjectMeta, now: Date): Promise<ReceiveResult> {
    assertRef(ref);
    assertMeta(meta);
    assertTime(now);
    return this.mutate(ref, (current) => receiveTransition(current, ref, meta, now));
  }

  async begin(ref: ObjectRef, options: BeginOptions): Promise<BeginResult> {
    assertRef(ref);
    assertOwner(options.owner);
    assertTime(options.now);
    assertLeaseMs(options.leaseMs);
    assertMeta(options.meta);
    if (options.maxAttempts !== undefined) assertMaxAttempts(options.maxAttempts);
    return this.mutate(ref, (current) => beginTransition(current, ref, options));
  }

  async heartbeat(ref: ObjectRef, owner: string, now: Date, leaseMs: number): Promise<HeartbeatResult> {
    assertRef(ref);
    assertOwner(owner);
    assertTime(now);
    assertLeaseMs(leaseMs);
    return this.mutate(ref, (current) => heartbeatTransition(current, owner, now, leaseMs));
  }

  async complete(ref: ObjectRef, owner: string, result: ProcessingResult, now: Date): Promise<LedgerItem> {
    assertRef(ref);
    assertOwner(owner);
    assertTime(now);
    assertResult(result);
    return this.mutate(ref, (current) => completeTransition(current, ref, owner, result, now));
  }

  async markLoaded(refs: readonly ObjectRef[], loadId: string, now: Date): Promise<MarkLoadedResult> {
    assertRefs(refs);
    assertLoadId(loadId);
    assertTime(now);
    const marked: ObjectRef[] = [];
    const alreadyLoaded: ObjectRef[] = [];
    const refused: MarkLoadedResult['refused'][number][] = [];
    const seen = new Set<string>();
    for (const ref of refs) {
      const id = JSON.stringify([ref.bucket, ref.key, ref.versionId]);
      if (seen.has(id)) continue;
      seen.add(id);
      const r = await this.mutate(ref, (current) => markLoadedTransition(current, loadId, now));
      if (r.kind === 'marked') marked.push(ref);
      else if (r.kind === 'already') alreadyLoaded.push(ref);
      else refused.push({ ref, reason: r.reason, status: r.item?.status, loadId: r.item?.loadId });
    }
    return { marked, alreadyLoaded, refused };
  }

  async markNotarised(ref: ObjectRef, batchId: string, now: Date): Promise<MarkNotarisedResult> {
    assertRef(ref);
    assertProofBatch(batchId);
    assertTime(now);
    return this.mutate(ref, (current) => markNotarisedTransition(current, batchId, now));
  }

  async get(ref: ObjectRef): Promise<LedgerItem | undefined> {
    assertRef(ref);
    const v = await this.store.read(ref);
    return v && fromRecord(v.record);
  }

  async findBySha256(tenant: string, sha256: string): Promise<LedgerItem[]> {
    assertQueryTenant(tenant);
    assertQuerySha256(sha256);
    const items = (await this.store.scan()).map(fromRecord);
    return items
      .filter((i) => i.tenant === tenant && i.sha256 === sha256)
      .sort((a, b) => comparePosition(positionOf(a), positionOf(b)));
  }

  async listByTenant(tenant: string, options: ListOptions = {}): Promise<LedgerPage> {
    assertQueryTenant(tenant);
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    assertPageSize(limit);
    if (options.from) assertTime(options.from, 'from');
    if (options.to) assertTime(options.to, 'to');
    const after = options.cursor === undefined ? undefined : decodeCursor(tenant, options.cursor);
    const from = options.from?.getTime() ?? Number.NEGATIVE_INFINITY;
    const to = options.to?.getTime() ?? Number.POSITIVE_INFINITY;
    const matching = (await this.store.scan())
      .map(fromRecord)
      .filter((i) => i.tenant === tenant && i.receivedAt.getTime() >= from && i.receivedAt.getTime() < to)
      .map((item) => ({ item, position: positionOf(item) }))
      .filter((x) => after === undefined || comparePosition(x.position, after) > 0)
      .sort((a, b) => comparePosition(a.position, b.position));
    const page = matching.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map((x) => x.item),
      ...(matching.length > limit && last ? { cursor: encodeCursor(tenant, last.position) } : {}),
    };
  }
}
