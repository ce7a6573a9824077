/**
 * The process core (DESIGN.md §1, §3.3–§3.6): one raw object in, its TAHOE Parquet parts, its quarantine file and
 * its ledger item out — exactly once in effect, in memory that does not grow with the object. docs/processing.md
 * tells the whole story; in short:
 *
 * 1. The key says what the object is (tenant, typetag, envelope, gzip). The tenant's policy decides whether it is
 *    accepted at all; a refused object is recorded as NOT_SUPPORTED without being read.
 * 2. `ledger.begin` takes a lease: a finished object is a duplicate (no-op), a leased one is busy, one tried too
 *    often is recorded as ERROR. A heartbeat keeps the lease while the object is read.
 * 3. The object is read twice, both times streamed: first to hash its stored bytes (the raw rows carry the
 *    object's SHA-256, which is only known once every byte went by), then to decrypt, split, parse and write rows
 *    into part files and the quarantine file in the work folder, while the same bytes are hashed again and must
 *    match. When the ledger already knows the hash (recorded on arrival), the first read is skipped.
 * 4. Only after the plaintext stream ended — the envelope authenticated — are the staged files uploaded, create-only,
 *    under deterministic keys; `exists` means an earlier attempt already stored the same bytes. Then the ledger
 *    item is completed (its counts add up to the records read) and the ObjectProcessed event is published.
 *
 * Failures: a PermanentError (tampered or undecryptable envelope, bad gzip, missing object, …) discards everything
 * staged and records the object as QUARANTINED with the error's outcome and reason; nothing of it is visible.
 * TransientError and ConfigError (and bugs) propagate after the work folder is cleaned: the handler retries, and
 * once this attempt's lease runs out a later attempt takes the object over.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { GetOptions, ObjectBody, ObjectStore } from '../adapters/object-store';
import { type OpenEnvelopeOptions, openEnvelope } from '../envelope/envelope';
import { LeaseLostError } from '../ledger/errors';
import { isFinished, type LedgerItem, type ObjectMeta, type ProcessingResult, ZERO_COUNTS } from '../ledger/model';
import { exhaustedResult } from '../ledger/transitions';
import { badData, PermanentError, TransientError } from '../shared/errors';
import { InvalidIdentifierError } from '../shared/ids';
import { type ParsedRawKey, parseRawKey, quarantineKey, tahoeKey } from '../shared/s3-keys';
import { DEFAULT_RECORD_LIMITS, framingFor, RecordSplitter } from '../tahoe/records';
import { LeaseKeeper } from './lease';
import type { ObjectProcessedEvent, ProcessDeps, ProcessOutcome, ProcessRequest, TenantSettings } from './ports';
import { RowSink, type StagedOutput } from './row-sink';

/**
 * Attribute/object hashes per generation of the per-object de-duplication sets (events, sessions and raws get an
 * eighth to a quarter of it), unless `deps.limits.dedupeKeys` says otherwise: about 20 MiB at most.
 */
export const DEFAULT_DEDUPE_KEYS = 50_000;
/**
 * Buffered bytes per Parquet part unless `deps.limits.maxPartBytes` says otherwise. Three tables buffer at once and
 * encoding a part takes about as much again, so this bounds the core's working memory (docs/processing.md, Limits).
 */
export const DEFAULT_MAX_PART_BYTES = 8 * 1024 * 1024;
/** Staged files uploaded at once. */
const UPLOAD_CONCURRENCY = 4;
/** Upload timezone when the object carries none in its metadata. */
export const DEFAULT_TIMEZONE = 'UTC';
export const PARQUET_CONTENT_TYPE = 'application/vnd.apache.parquet';
export const QUARANTINE_CONTENT_TYPE = 'application/gzip';

/** Everything fixed for one request once the key is parsed. */
interface Job {
  readonly req: ProcessRequest;
  readonly deps: ProcessDeps;
  readonly key: ParsedRawKey;
}

type Admission = { readonly kind: 'accepted'; readonly tenant: TenantSettings } | { kind: 'refused'; reason: string };

/** Parses the object key; anything that is not a raw object key is refused for good (the handler drops it). */
function parseKey(key: string): ParsedRawKey {
  try {
    return parseRawKey(key);
  } catch (err) {
    if (err instanceof InvalidIdentifierError) throw new PermanentError('NOT_SUPPORTED', err.message, { cause: err });
    throw err;
  }
}

/** The tenant's policy for this object (DESIGN.md §3.1): unknown tenants, typetags and envelopes are refused. */
async function admit(job: Job): Promise<Admission> {
  const { tenant, typetag, envelope } = job.key;
  const settings = await job.deps.tenants.get(tenant);
  if (!settings) return { kind: 'refused', reason: `tenant ${tenant} is not registered` };
  if (!job.deps.enabledTypetags.has(typetag)) {
    return { kind: 'refused', reason: `typetag ${typetag} is not enabled in this deployment` };
  }
  if (!settings.typetags.includes(typetag)) {
    return { kind: 'refused', reason: `typetag ${typetag} is not allowed for tenant ${tenant}` };
  }
  if (settings.envelope === 'esdk' && envelope !== 'esdk') {
    return { kind: 'refused', reason: `tenant ${tenant} accepts only esdk envelopes, not ${envelope}` };
  }
  return { kind: 'accepted', tenant: settings };
}

function versionOptions(versionId: string, signal?: AbortSignal): GetOptions {
  // S3 names the version of objects written while versioning was off "null"; asking for it is the same as not.
  return { ...(versionId === 'null' ? {} : { versionId }), ...(signal ? { signal } : {}) };
}

/** What the ledger item is created with: the notification's view, or the object's own when it has none. */
async function objectMeta(job: Job): Promise<ObjectMeta> {
  const { req, deps, key } = job;
  let size = req.size;
  let receivedAt = req.eventTime;
  if (size === undefined || receivedAt === undefined) {
    const info = await deps.store.head(req.ref.bucket, req.ref.key, versionOptions(req.ref.versionId));
    if (!info) {
      throw new PermanentError('ERROR', `no object ${req.ref.key} (version ${req.ref.versionId}) in ${req.ref.bucket}`);
    }
    size ??= info.size;
    // A copy: adapters may hand out Dates of another realm (Node internals seen from a vm context).
    receivedAt ??= new Date(info.lastModified.getTime());
  }
  return { tenant: key.tenant, typetag: key.typetag, size, receivedAt };
}

function statusOf(item: LedgerItem): 'PROCESSED' | 'QUARANTINED' | undefined {
  if (item.status === 'PROCESSED' || item.status === 'QUARANTINED') return item.status;
  return undefined;
}

/** The event of a finished item. Built from the stored item only, so a repeated publication is identical. */
export function processedEvent(item: LedgerItem): ObjectProcessedEvent | undefined {
  const status = statusOf(item);
  if (!status || !item.outcome) return undefined;
  const outputs = item.outputs ?? { curated: [] };
  return {
    tenant: item.tenant,
    typetag: item.typetag,
    bucket: item.ref.bucket,
    key: item.ref.key,
    versionId: item.ref.versionId,
    sha256: item.sha256,
    status,
    outcome: item.outcome,
    reason: item.reason,
    counts: item.counts ?? ZERO_COUNTS,
    outputs: [...outputs.curated, ...(outputs.quarantine === undefined ? [] : [outputs.quarantine])],
    processedAt: (item.finishedAt ?? item.updatedAt).toISOString(),
  };
}

async function publish(deps: ProcessDeps, item: LedgerItem): Promise<void> {
  const event = processedEvent(item);
  if (event) await deps.events.publish(event);
}

/**
 * What to answer when this attempt's lease turned out to be gone: the object is finished (a duplicate now), or
 * another worker holds it (busy: the message comes back and then finds it finished).
 */
async function afterLeaseLoss(job: Job): Promise<ProcessOutcome> {
  const item = await job.deps.ledger.get(job.req.ref);
  if (item && isFinished(item.status)) return { status: 'duplicate', item };
  const expires = item?.leaseExpiresAt ?? new Date(job.deps.clock().getTime() + job.deps.limits.leaseMs);
  return { status: 'busy', leaseExpiresAt: expires };
}

/** Records the result, then announces it. */
async function finish(job: Job, result: ProcessingResult): Promise<ProcessOutcome> {
  const { deps, req } = job;
  let item: LedgerItem;
  try {
    item = await deps.ledger.complete(req.ref, deps.owner, result, deps.clock());
  } catch (err) {
    if (err instanceof LeaseLostError) return afterLeaseLoss(job);
    throw err;
  }
  // After complete, not before: an event must not announce what the ledger does not hold. If publishing fails,
  // the error goes to the handler, the message comes back, and the duplicate delivery publishes again.
  await publish(deps, item);
  return { status: item.status === 'PROCESSED' ? 'processed' : 'quarantined', item };
}

function refusal(outcome: ProcessingResult['outcome'], reason: string, sha256?: string): ProcessingResult {
  return { outcome, reason, ...(sha256 ? { sha256 } : {}), counts: ZERO_COUNTS, outputs: { curated: [] } };
}

/** Processes one raw object. See the module comment and docs/processing.md. */
export async function processObject(req: ProcessRequest, deps: ProcessDeps): Promise<ProcessOutcome> {
  const job: Job = { req, deps, key: parseKey(req.ref.key) };
  const admission = await admit(job);
  const meta = await objectMeta(job);
  const begun = await deps.ledger.begin(req.ref, {
    owner: deps.owner,
    now: deps.clock(),
    leaseMs: deps.limits.leaseMs,
    meta,
    maxAttempts: deps.limits.maxAttempts,
  });
  switch (begun.kind) {
    case 'finished':
      // Re-announced: the attempt that finished it may have failed to publish (events are at-least-once).
      await publish(deps, begun.item);
      return { status: 'duplicate', item: begun.item };
    case 'busy':
      return { status: 'busy', leaseExpiresAt: begun.leaseExpiresAt };
    case 'exhausted': {
      const last = await deps.ledger.get(req.ref);
      return finish(job, exhaustedResult(begun.maxAttempts, last?.reason));
    }
    case 'acquired':
      break;
  }
  if (admission.kind === 'refused') return finish(job, refusal('NOT_SUPPORTED', admission.reason));
  const item = await deps.ledger.get(req.ref);
  if (!item) throw new TransientError(`ledger item of ${req.ref.key} not readable after begin`);
  return run(job, admission.tenant, item);
}

/** Fails the attempt from outside: lease lost, or the caller's signal. */
class Stop extends Error {
  override readonly name = 'Stop';
}

async function run(job: Job, tenant: TenantSettings, item: LedgerItem): Promise<ProcessOutcome> {
  const { req, deps } = job;
  const stop = new AbortController();
  const onCallerAbort = () => stop.abort(new TransientError('processing aborted by the caller'));
  if (req.signal?.aborted) onCallerAbort();
  req.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const keeper = new LeaseKeeper({
    ledger: deps.ledger,
    ref: req.ref,
    owner: deps.owner,
    leaseMs: deps.limits.leaseMs,
    clock: deps.clock,
    onLost: () => stop.abort(new Stop('lease lost')),
  });
  await mkdir(deps.workDir, { recursive: true });
  const work = await mkdtemp(join(deps.workDir, 'process-'));
  keeper.start();
  // A hash recorded on arrival is checked by the processing pass; otherwise a first pass computes it.
  const recorded = item.sha256;
  let sha256: string | undefined = recorded;
  try {
    sha256 ??= await hashObject(deps.store, job, stop.signal);
    const staged = await stage(job, tenant, item, { sha256, recorded: recorded !== undefined }, work, stop.signal);
    const outputs = await upload(job, sha256, staged, item.attempts > 1, stop.signal);
    await keeper.stop();
    if (keeper.lost) return await afterLeaseLoss(job);
    const c = staged.counts;
    const first = staged.firstQuarantined;
    const reason =
      c.quarantined === 0 || !first
        ? undefined
        : `${c.quarantined} of ${c.recordsIn} records quarantined (not supported ${c.notSupported}, error ${c.error}, bad data ${c.badData}); first at line ${first.line} (${first.outcome})`;
    return await finish(job, { outcome: 'SUCCESS', reason, sha256, counts: c, outputs });
  } catch (err) {
    await keeper.stop();
    if (keeper.lost) return afterLeaseLoss(job);
    const stopped = stop.signal.aborted ? stop.signal.reason : undefined;
    if (stopped instanceof TransientError) throw stopped;
    if (err instanceof PermanentError) {
      // A recorded hash the bytes contradict is not written back (the ledger would refuse it).
      const hash = err instanceof HashMismatchError ? undefined : sha256;
      return finish(job, refusal(err.outcome, err.message, hash));
    }
    throw err;
  } finally {
    req.signal?.removeEventListener('abort', onCallerAbort);
    await keeper.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** The stored bytes do not hash to the SHA-256 recorded for the object when it arrived. */
class HashMismatchError extends PermanentError {
  constructor(expected: string, actual: string) {
    super('BAD_DATA', `the stored bytes hash to ${actual}, not the ${expected} recorded for the object`);
  }
}

/**
 * Passes the stored bytes through while hashing and counting them: the source the envelope reads.
 *
 * It fails only with its body's own errors. When a later stage fails (bad gzip, a tampered frame), `pipeline`
 * destroys every stream of the chain with that stage's error; were the tee to emit it as its own, the envelope
 * would take it for a source error (which it passes through unclassified, e.g. an S3 read reset) instead of
 * classifying it as BAD_DATA. So the tee swallows errors it did not get from its body.
 */
class HashingTee extends Transform {
  private readonly hash = createHash('sha256');
  bytes = 0;
  digest: string | undefined;
  /** The body's error, the only one the tee reports. */
  bodyError: Error | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.digest = this.hash.digest('hex');
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    callback(error !== null && error === this.bodyError ? error : null);
  }
}

/** Opens the object with its body piped through a HashingTee; the body is destroyed when `signal` fires. */
async function openObject(
  store: ObjectStore,
  job: Job,
  signal: AbortSignal,
): Promise<{ object: ObjectBody; tee: HashingTee }> {
  const { ref } = job.req;
  signal.throwIfAborted();
  const object = await store.get(ref.bucket, ref.key, versionOptions(ref.versionId, signal));
  const { body } = object;
  const tee = new HashingTee();
  const abort = () => body.destroy(signal.reason instanceof Error ? signal.reason : new Stop('stopped'));
  // Errors of the body (a reset connection: TransientError; an abort) reach the tee and whoever reads it.
  body.once('error', (err) => {
    tee.bodyError ??= err;
    tee.destroy(err);
  });
  tee.once('close', () => {
    signal.removeEventListener('abort', abort);
    // Whoever reads the tee stopped (done, or failed): release the body (an S3 connection).
    if (!body.destroyed) body.destroy();
  });
  body.pipe(tee);
  if (signal.aborted) abort();
  else signal.addEventListener('abort', abort, { once: true });
  return { object, tee };
}

/** A complete read of the stored bytes, or a TransientError (the connection closed early without saying so). */
function checkComplete(object: ObjectBody, tee: HashingTee): string {
  if (tee.digest === undefined) throw new TransientError(`${object.key}: the object body did not end`);
  if (object.size > 0 && tee.bytes !== object.size) {
    throw new TransientError(`${object.key}: read ${tee.bytes} bytes of ${object.size}`);
  }
  return tee.digest;
}

/** First pass: the SHA-256 of the exact stored bytes. */
async function hashObject(store: ObjectStore, job: Job, signal: AbortSignal): Promise<string> {
  const { object, tee } = await openObject(store, job, signal);
  tee.resume();
  await finished(tee);
  return checkComplete(object, tee);
}

/** IANA zone names the runtime knows; `Intl` throws a RangeError for anything else. */
const zoneCache = new Map<string, boolean>();

function isTimeZone(zone: string): boolean {
  let ok = zoneCache.get(zone);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: zone });
      ok = zone.length <= 64;
    } catch {
      ok = false;
    }
    if (zoneCache.size < 1024) zoneCache.set(zone, ok);
  }
  return ok;
}

/** The upload's declared timezone: object metadata `timezone` (set by the upload API), else UTC. */
function timezoneOf(object: ObjectBody): string {
  const zone = object.metadata?.timezone;
  if (zone === undefined || zone === '') return DEFAULT_TIMEZONE;
  if (!isTimeZone(zone)) {
    throw badData(`object metadata timezone ${JSON.stringify(zone.slice(0, 80))} is not an IANA time zone`);
  }
  return zone;
}

/**
 * Second pass: decrypt, split, parse, stage. Returns once the plaintext ended — the envelope authenticated — and
 * the stored bytes hashed to `sha256`.
 */
async function stage(
  job: Job,
  tenant: TenantSettings,
  item: LedgerItem,
  hash: { readonly sha256: string; readonly recorded: boolean },
  work: string,
  signal: AbortSignal,
): Promise<StagedOutput> {
  const { deps, key, req } = job;
  const { object, tee } = await openObject(deps.store, job, signal);
  const maxDocumentBytes = deps.limits.maxDocumentBytes ?? DEFAULT_RECORD_LIMITS.maxDocumentBytes;
  let sink: RowSink | undefined;
  try {
    const options: OpenEnvelopeOptions = {
      unwrapper: deps.unwrapper,
      allowedKeyArns: deps.allowedKeyArns,
      expectedContext: { tenant: key.tenant, typetag: key.typetag },
      gzip: key.gzip,
      ...(deps.rsaModulusBytes === undefined ? {} : { rsaModulusBytes: deps.rsaModulusBytes }),
    };
    const plaintext: Readable = openEnvelope(key.envelope, tee, options);
    sink = new RowSink({
      workDir: work,
      tenant: tenant.tenant,
      typetag: key.typetag,
      orgid: tenant.orgid,
      timezone: timezoneOf(object),
      // The ledger item's time, fixed when the item was created: every attempt writes the same rows.
      receivedAt: item.receivedAt,
      objectKey: req.ref.key,
      objectSha256: hash.sha256,
      rowsPerPart: deps.limits.rowsPerPart,
      maxPartBytes: deps.limits.maxPartBytes ?? DEFAULT_MAX_PART_BYTES,
      maxRecordBytes: deps.limits.maxRecordBytes,
      maxDocumentBytes,
      dedupeKeys: deps.limits.dedupeKeys ?? DEFAULT_DEDUPE_KEYS,
      enabledTypetags: new Set([key.typetag]),
    });
    const splitter = new RecordSplitter(framingFor(key.typetag), {
      maxRecordBytes: deps.limits.maxRecordBytes,
      maxDocumentBytes,
    });
    for await (const chunk of plaintext as AsyncIterable<Buffer>) {
      for (const rec of splitter.push(chunk)) await sink.record(rec);
    }
    // The plaintext ended: the envelope authenticated. From here on the records may become visible.
    for (const rec of splitter.end()) await sink.record(rec);
    const actual = checkComplete(object, tee);
    if (actual !== hash.sha256) {
      if (hash.recorded) throw new HashMismatchError(hash.sha256, actual);
      // Both reads were of the same immutable version: a difference is corruption on the way. Read again.
      throw new TransientError(`${object.key}: two reads hashed to ${hash.sha256} and ${actual}`);
    }
    return await sink.end();
  } catch (err) {
    sink?.abort();
    if (!object.body.destroyed) object.body.destroy();
    throw err;
  }
}

/** Uploads the staged files, create-only; returns the ledger's outputs. */
async function upload(
  job: Job,
  sha256: string,
  staged: StagedOutput,
  retry: boolean,
  signal: AbortSignal,
): Promise<{ curated: string[]; quarantine?: string }> {
  const { deps, key } = job;
  const tasks: { bucket: string; key: string; path: string; contentType: string }[] = staged.parts.map((p) => ({
    bucket: deps.buckets.curated,
    key: tahoeKey({ table: p.table, tenant: key.tenant, dt: key.dt, rawSha256: sha256, part: p.part }),
    path: p.path,
    contentType: PARQUET_CONTENT_TYPE,
  }));
  const quarantine = staged.quarantine && quarantineKey({ tenant: key.tenant, dt: key.dt, rawSha256: sha256 });
  if (staged.quarantine && quarantine) {
    tasks.push({
      bucket: deps.buckets.quarantine,
      key: quarantine,
      path: staged.quarantine,
      contentType: QUARANTINE_CONTENT_TYPE,
    });
  }
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && next < tasks.length) {
      const t = tasks[next++] as (typeof tasks)[number];
      try {
        signal.throwIfAborted();
        // A later attempt first looks for what a crashed one already stored, rather than sending it again.
        if (retry && (await deps.store.head(t.bucket, t.key))) continue;
        const { size } = await stat(t.path);
        // 'exists' is success: the key names this object's hash and part, and output is deterministic, so an
        // earlier attempt that crashed after uploading stored exactly these bytes.
        await deps.store.putIfAbsent(t.bucket, t.key, createReadStream(t.path), {
          contentLength: size,
          contentType: t.contentType,
          signal,
        });
      } catch (err) {
        failure ??= err;
      }
    }
  };
  // Every worker is waited for, so that none still reads the work folder once the caller removes it.
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, tasks.length) }, worker));
  if (failure !== undefined) throw failure;
  return {
    curated: staged.parts.map((_, i) => (tasks[i] as { key: string }).key),
    ...(quarantine ? { quarantine } : {}),
  };
}
