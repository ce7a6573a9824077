/**
 * The local runtime's processing loop (DESIGN.md §4): the in-process stand-in for SQS `raw-events` + its DLQ + the
 * process Lambda. It takes the S3 event records the local S3 twin emits (lambdas/local/local-s3.ts), wraps each in
 * a message whose body is exactly what S3 puts in an SQS message, and runs the process core over it with local
 * dependencies, settling each message by the same rules as the Lambda handler (lambdas/process/s3-events.ts).
 *
 * Where SQS retries after the visibility timeout, this queue retries after the seed's backoff,
 * `min(cap, 2^receives + jitter)` seconds (lambdas/shared/errors.ts `backoffSeconds`) with a small cap, or once
 * the lease of a busy object has run out. After `maxReceiveCount` receives a message moves to the dead-letter list,
 * appended as one JSON line to a file under the data folder, where `deadLetters()` reads it and `redrive()` sends it
 * again. Nothing is retried for ever and nothing is dropped without a trace: a message is acknowledged, or it is in
 * the queue, waiting for a retry, or dead-lettered. One difference from the Lambda: a body that is not an S3
 * notification at all is dead-lettered at once (on AWS it is logged and acknowledged), since locally the dead-letter
 * list is where a person looks.
 *
 * The queue lives in memory; `reconcile()` finds raw objects whose processing never finished (e.g. after the
 * runtime was stopped with messages still queued) and queues them again.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { S3EventRecord } from 'aws-lambda';
import type { ObjectRef } from '../ledger/model';
import { isFinished } from '../ledger/model';
import type { ProcessDeps, ProcessOutcome } from '../process/ports';
import { processObject } from '../process/process-object';
import {
  MalformedNotificationError,
  NULL_VERSION_ID,
  type ObjectBusyError,
  type ObjectCreated,
  type ProcessCore,
  parseS3Notification,
  processCreatedObjects,
  type RecordResult,
  retryErrorOf,
} from '../process/s3-events';
import { backoffSeconds } from '../shared/errors';
import { encodeS3EventKey, notificationBody } from './local-s3';

/** The dead-letter file of a local data folder. */
export const LOCAL_DEAD_LETTER_FILE = 'raw-events-dlq.jsonl';

/** Where the loop logs; the Powertools logger fits. */
export interface LoopLogger {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

export interface ProcessingLoopOptions {
  /** The core's dependencies but those of one attempt (`owner`, `workDir`): the twin's S3 client, file ledger, … */
  readonly deps: Omit<ProcessDeps, 'owner' | 'workDir'>;
  /** The runtime's data folder: the dead-letter file and the per-attempt work folders go under it. */
  readonly dataDir: string;
  /** Only objects of this bucket are processed (as the Lambda only processes the raw bucket). */
  readonly rawBucket?: string;
  /** @default processObject */
  readonly core?: ProcessCore;
  /** Receives before a message is dead-lettered (SQS maxReceiveCount). @default 5 */
  readonly maxReceiveCount?: number;
  /** Longest wait before a retry, in seconds; the seed allows an hour, a laptop wants seconds. @default 5 */
  readonly backoffCapSeconds?: number;
  /** Messages processed at once. @default 1 */
  readonly concurrency?: number;
  /** Waits between retries; tests inject one that does not wait. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter source of the backoff. @default Math.random */
  readonly random?: () => number;
  /** @default a logger that discards */
  readonly logger?: LoopLogger;
  /** @default <dataDir>/raw-events-dlq.jsonl */
  readonly deadLetterFile?: string;
}

/** A message of the queue, as SQS would hold it. */
export interface LocalMessage {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: string;
  /** Deliveries so far (SQS ApproximateReceiveCount). */
  receiveCount: number;
}

/** One line of the dead-letter file. */
export interface DeadLetter {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: string;
  readonly receiveCount: number;
  readonly deadLetteredAt: string;
  /** Why the last delivery failed: the error class and message (never a payload). */
  readonly error: { readonly name: string; readonly message: string };
}

export interface LoopCounters {
  /** Messages sent to the queue (a retry is the same message again; a redrive sends new ones). */
  readonly sent: number;
  /** Deliveries (a message retried three times counts three). */
  readonly received: number;
  /** Messages settled for good: every object done, duplicate or refused. */
  readonly acknowledged: number;
  /** Deliveries that ended in a retry. */
  readonly retried: number;
  readonly deadLettered: number;
  /** Objects finished PROCESSED / QUARANTINED by this loop, duplicates seen, objects refused (PermanentError). */
  readonly processed: number;
  readonly quarantined: number;
  readonly duplicates: number;
  readonly refused: number;
  /** Messages waiting to be received now, being processed, and waiting for a retry. */
  readonly queued: number;
  readonly inFlight: number;
  readonly delayed: number;
}

const silent: LoopLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms);
  });

function errorOf(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: 'Error', message: String(err) };
}

export class ProcessingLoop {
  private readonly queue: LocalMessage[] = [];
  /** Messages waiting for their retry, with whether they were already put back by `stop`. */
  private readonly delayedMessages = new Map<LocalMessage, { returned: boolean }>();
  private readonly waitingWorkers: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private readonly workers: Promise<void>[] = [];
  private readonly subscriptions = new Set<AsyncIterator<S3EventRecord>>();
  private running = false;
  private inFlight = 0;
  private readonly core: ProcessCore;
  private readonly maxReceiveCount: number;
  private readonly capSeconds: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly logger: LoopLogger;
  readonly deadLetterFile: string;
  private readonly count = {
    sent: 0,
    received: 0,
    acknowledged: 0,
    retried: 0,
    deadLettered: 0,
    processed: 0,
    quarantined: 0,
    duplicates: 0,
    refused: 0,
  };
  private dlqWrite: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ProcessingLoopOptions) {
    this.core = options.core ?? processObject;
    this.maxReceiveCount = options.maxReceiveCount ?? 5;
    if (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1) {
      throw new RangeError(`maxReceiveCount = ${this.maxReceiveCount}: must be a positive integer`);
    }
    this.capSeconds = options.backoffCapSeconds ?? 5;
    this.sleep = options.sleep ?? defaultSleep;
    this.random = options.random ?? Math.random;
    this.logger = options.logger ?? silent;
    this.deadLetterFile = options.deadLetterFile ?? join(options.dataDir, LOCAL_DEAD_LETTER_FILE);
  }

  get counters(): LoopCounters {
    return {
      ...this.count,
      queued: this.queue.length,
      inFlight: this.inFlight,
      delayed: [...this.delayedMessages.values()].filter((d) => !d.returned).length,
    };
  }

  /** Queues a message body (SQS SendMessage); returns its id. */
  send(body: string): string {
    const message: LocalMessage = {
      messageId: randomUUID(),
      body,
      sentAt: new Date().toISOString(),
      receiveCount: 0,
    };
    this.count.sent += 1;
    this.enqueue(message);
    return message.messageId;
  }

  /** Queues one message per S3 event record, as an S3 notification to SQS carries it. */
  sendRecords(records: readonly S3EventRecord[]): string[] {
    return records.map((r) => this.send(notificationBody([r])));
  }

  /**
   * Feeds the queue from a source of S3 event records (e.g. `localS3.objectCreated({ bucket, prefix: 'raw/' })`)
   * until the source ends or the loop stops. Returns at once; the feeding runs in the background.
   */
  subscribe(source: AsyncIterable<S3EventRecord>): void {
    const iterator = source[Symbol.asyncIterator]();
    this.subscriptions.add(iterator);
    void (async () => {
      try {
        while (true) {
          const next = await iterator.next();
          if (next.done) return;
          this.sendRecords([next.value]);
        }
      } catch (err) {
        this.logger.error('S3 event subscription failed', { error: errorOf(err) });
      } finally {
        this.subscriptions.delete(iterator);
      }
    })();
  }

  /** Starts the workers. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const n = Math.max(1, this.options.concurrency ?? 1);
    for (let i = 0; i < n; i++) this.workers.push(this.work());
  }

  /**
   * Stops taking messages and waits for those being processed. Messages waiting for a retry go back to the queue,
   * so that nothing is pending once this resolves; queued messages stay queued (see `counters.queued`). Event
   * subscriptions are ended.
   */
  async stop(): Promise<void> {
    this.running = false;
    for (const iterator of this.subscriptions) await iterator.return?.();
    for (const wake of this.waitingWorkers.splice(0)) wake();
    await Promise.all(this.workers.splice(0));
    for (const [message, state] of this.delayedMessages) {
      if (state.returned) continue;
      state.returned = true;
      this.queue.push(message);
    }
    await this.dlqWrite;
    this.checkIdle();
  }

  /**
   * Resolves once nothing is queued, being processed or waiting for a retry. Messages are only taken while the loop
   * runs: after `stop` with messages still queued, it resolves once a later `start` has drained them.
   */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  /** The dead-letter list, oldest first. */
  async deadLetters(): Promise<DeadLetter[]> {
    await this.dlqWrite;
    let text: string;
    try {
      text = await readFile(this.deadLetterFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as DeadLetter);
  }

  /**
   * Sends every dead-lettered message again (SQS redrive), e.g. after fixing the deployment. The dead-letter file
   * is kept, renamed `<file>.redriven-<time>`, as the record of what was redriven. Returns the new message ids.
   */
  async redrive(): Promise<string[]> {
    const letters = await this.deadLetters();
    if (letters.length === 0) return [];
    await rename(this.deadLetterFile, `${this.deadLetterFile}.redriven-${new Date().toISOString().replace(/:/g, '')}`);
    return letters.map((l) => this.send(l.body));
  }

  /**
   * Queues a notification for each object under `prefix` of the raw bucket whose ledger item is missing or not
   * finished: the in-memory queue does not survive a restart, the objects and the ledger do. Returns how many.
   */
  async reconcile(prefix = 'raw/'): Promise<number> {
    const bucket = this.options.rawBucket;
    if (bucket === undefined) throw new Error('reconcile needs the rawBucket option');
    const { store, ledger } = this.options.deps;
    let queued = 0;
    for await (const object of store.list(bucket, prefix)) {
      const info = await store.head(bucket, object.key);
      const ref: ObjectRef = { bucket, key: object.key, versionId: info?.versionId ?? NULL_VERSION_ID };
      const item = await ledger.get(ref);
      if (item && isFinished(item.status)) continue;
      this.send(
        notificationBody([
          {
            eventVersion: '2.1',
            eventSource: 'aws:s3',
            awsRegion: 'local',
            eventTime: object.lastModified.toISOString(),
            eventName: 'ObjectCreated:Put',
            userIdentity: { principalId: 'local-reconcile' },
            requestParameters: { sourceIPAddress: '127.0.0.1' },
            responseElements: { 'x-amz-request-id': 'reconcile', 'x-amz-id-2': 'reconcile' },
            s3: {
              s3SchemaVersion: '1.0',
              configurationId: 'local-reconcile',
              bucket: { name: bucket, ownerIdentity: { principalId: 'local' }, arn: `arn:aws:s3:::${bucket}` },
              object: {
                key: encodeS3EventKey(object.key),
                size: object.size,
                eTag: object.etag,
                ...(ref.versionId === NULL_VERSION_ID ? {} : { versionId: ref.versionId }),
                sequencer: Date.now().toString(16).toUpperCase(),
              },
            },
          },
        ]),
      );
      queued += 1;
    }
    return queued;
  }

  private enqueue(message: LocalMessage): void {
    this.queue.push(message);
    this.waitingWorkers.shift()?.();
  }

  private checkIdle(): void {
    const c = this.counters;
    if (c.queued > 0 || c.inFlight > 0 || c.delayed > 0) return;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private async work(): Promise<void> {
    while (this.running) {
      const message = this.queue.shift();
      if (!message) {
        await new Promise<void>((resolve) => this.waitingWorkers.push(resolve));
        continue;
      }
      this.inFlight += 1;
      try {
        await this.deliver(message);
      } catch (err) {
        // `deliver` settles every message itself; reaching here means the loop itself failed (e.g. the dead-letter
        // file could not be written). The message must not vanish: it is retried like a failed delivery.
        this.logger.error('processing loop failed on a message', { messageId: message.messageId, error: errorOf(err) });
        this.count.retried += 1;
        this.retryLater(message, backoffSeconds(message.receiveCount, this.capSeconds, this.random) * 1000);
      } finally {
        this.inFlight -= 1;
        this.checkIdle();
      }
    }
  }

  private async deliver(message: LocalMessage): Promise<void> {
    message.receiveCount += 1;
    this.count.received += 1;
    const { messageId } = message;
    let notification: ReturnType<typeof parseS3Notification>;
    try {
      notification = parseS3Notification(message.body, { bucket: this.options.rawBucket });
    } catch (err) {
      if (!(err instanceof MalformedNotificationError)) throw err;
      this.logger.error('malformed message dead-lettered', { messageId, issues: err.issues.slice(0, 10) });
      await this.deadLetter(message, err);
      return;
    }
    if (notification.kind === 'test') {
      this.count.acknowledged += 1;
      return;
    }
    for (const ignored of notification.ignored) this.logger.warn('S3 event record ignored', { messageId, ...ignored });
    const owner = `local:${messageId}:${message.receiveCount}`;
    const results = await processCreatedObjects(notification.created, (object) => this.runObject(object, owner));
    for (const result of results) this.report(result, messageId);
    const retry = retryErrorOf(results);
    if (!retry) {
      this.count.acknowledged += 1;
      return;
    }
    if (message.receiveCount >= this.maxReceiveCount) {
      this.logger.error('message dead-lettered after its last receive', {
        messageId,
        receiveCount: message.receiveCount,
        error: errorOf(retry),
      });
      await this.deadLetter(message, retry);
      return;
    }
    this.count.retried += 1;
    this.retryLater(message, this.retryDelayMs(message, results));
  }

  /** The seed's backoff; for a busy object at least until its lease runs out (SQS waits a visibility timeout). */
  private retryDelayMs(message: LocalMessage, results: readonly RecordResult[]): number {
    let ms = backoffSeconds(message.receiveCount, this.capSeconds, this.random) * 1000;
    const now = this.options.deps.clock().getTime();
    for (const { fate } of results) {
      if (fate.kind !== 'busy') continue;
      const untilExpiry = (fate.error as ObjectBusyError).leaseExpiresAt.getTime() - now;
      ms = Math.max(ms, untilExpiry + 1);
    }
    return Math.ceil(ms);
  }

  private retryLater(message: LocalMessage, ms: number): void {
    const state = { returned: false };
    this.delayedMessages.set(message, state);
    void this.sleep(ms).then(
      () => this.retryNow(message, state),
      () => this.retryNow(message, state),
    );
  }

  private retryNow(message: LocalMessage, state: { returned: boolean }): void {
    this.delayedMessages.delete(message);
    // Put back by `stop` already: it is in the queue.
    if (state.returned) return;
    this.enqueue(message);
    this.checkIdle();
  }

  private async runObject(object: ObjectCreated, owner: string): Promise<ProcessOutcome> {
    const tmp = join(this.options.dataDir, 'tmp');
    await mkdir(tmp, { recursive: true });
    const workDir = await mkdtemp(join(tmp, 'process-'));
    try {
      return await this.core(object.request, { ...this.options.deps, owner, workDir });
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  }

  private report({ object, fate }: RecordResult, messageId: string): void {
    const { ref } = object.request;
    const fields = { messageId, bucket: ref.bucket, key: ref.key, versionId: ref.versionId };
    switch (fate.kind) {
      case 'processed':
      case 'quarantined':
        this.count[fate.kind] += 1;
        this.logger.info(`object ${fate.kind}`, {
          ...fields,
          outcome: fate.item.outcome,
          reason: fate.item.reason,
          counts: fate.item.counts,
        });
        return;
      case 'duplicate':
        this.count.duplicates += 1;
        return;
      case 'permanent':
        this.count.refused += 1;
        this.logger.warn('object refused', { ...fields, error: errorOf(fate.error) });
        return;
      case 'busy':
        this.logger.info('object held by another worker: retried later', fields);
        return;
      case 'config':
      case 'unexpected':
        this.logger.error(`object failed (${fate.kind}): retried`, { ...fields, error: errorOf(fate.error) });
        return;
      case 'transient':
        this.logger.warn('object failed transiently: retried', { ...fields, error: errorOf(fate.error) });
        return;
    }
  }

  private async deadLetter(message: LocalMessage, err: unknown): Promise<void> {
    const letter: DeadLetter = {
      messageId: message.messageId,
      body: message.body,
      sentAt: message.sentAt,
      receiveCount: message.receiveCount,
      deadLetteredAt: new Date().toISOString(),
      error: errorOf(err),
    };
    // Writes are chained: one line at a time, in order, and `deadLetters()` waits for those under way.
    const write = this.dlqWrite.then(async () => {
      await mkdir(dirname(this.deadLetterFile), { recursive: true });
      await appendFile(this.deadLetterFile, `${JSON.stringify(letter)}\n`);
    });
    this.dlqWrite = write.catch(() => undefined);
    await write;
    this.count.deadLettered += 1;
  }
}
