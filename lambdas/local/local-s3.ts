/**
 * The local S3 twin: an S3-compatible server on 127.0.0.1 for the local runtime and the integration tests. It
 * checks SigV4 signatures (headers and presigned URLs, expiry included), refuses anonymous requests, honours
 * `If-None-Match: *` on writes, and reports every created object as an S3 event record — the same JSON S3 puts in
 * the body of an SQS notification (`{"Records":[…]}`), so the local runtime feeds the processing core exactly
 * what the process Lambda receives on AWS.
 *
 * The server (s3rver) runs in a child process started with `--openssl-legacy-provider`; see
 * local-s3-server.ts for why, and for how create-only writes are enforced.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { CreateBucketCommand, type S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { S3EventRecord } from 'aws-lambda';
import { makeS3Client, S3_CLIENT_DEFAULTS } from '../adapters/s3-object-store';
import { decodeS3EventKey } from '../shared/s3-keys';
import type { ChildMessage, ParentMessage, ServerOptions } from './local-s3-server';

/** s3rver's one built-in key pair; requests signed with anything else are refused. */
export const LOCAL_S3_CREDENTIALS = Object.freeze({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' });

export interface LocalS3Options {
  /** Folder the buckets and objects are stored in; created if missing, and kept across restarts. */
  readonly dataDir: string;
  /** Buckets to create before start-up completes. @default [] */
  readonly buckets?: readonly string[];
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** Region written into event records and client configurations. @default 'us-east-1' */
  readonly region?: string;
  /** How long to wait for the server to listen. @default 30000 */
  readonly startTimeoutMs?: number;
}

/** Which events a subscriber receives: created objects of one bucket, optionally under a key prefix. */
export interface EventFilter {
  readonly bucket?: string;
  /** Compared with the decoded key, like the prefix filter of an S3 notification configuration. */
  readonly prefix?: string;
}

/**
 * An unbounded queue read with `for await` or `next()`. `close()` ends the iteration once the items already
 * queued have been read.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private readonly waiting: ((result: IteratorResult<T>) => void)[] = [];
  private closed = false;

  constructor(private readonly onClose: () => void = () => undefined) {}

  /** Items queued and not yet read. */
  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.closed) return;
    const waiter = this.waiting.shift();
    if (waiter) waiter({ value: item, done: false });
    else this.items.push(item);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter({ value: undefined, done: true });
    this.onClose();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift() as T, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}

/**
 * S3 URL-encodes object keys in event notifications the way HTML forms are encoded (a space becomes `+`, `=`
 * becomes `%3D`, `/` stays); s3rver sends them verbatim. The twin encodes them so that consumers run the same
 * decoding (`decodeS3EventKey`) locally as on AWS.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
 */
export function encodeS3EventKey(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%20/g, '+'))
    .join('/');
}

let sequence = 0;

/**
 * Turns one of s3rver's event records into the shape S3 sends: encoded key, a real bucket ARN, the configured
 * region, a sequencer that grows with every event (S3 compares sequencers of one key to order its events).
 */
export function toNotificationRecord(raw: S3EventRecord, region: string): S3EventRecord {
  sequence = (sequence + 1) % 0x1000000;
  const sequencer = `${Date.now().toString(16).padStart(12, '0')}${sequence.toString(16).padStart(6, '0')}`;
  return {
    ...raw,
    awsRegion: region,
    s3: {
      ...raw.s3,
      configurationId: 'local-object-created',
      bucket: { ...raw.s3.bucket, arn: `arn:aws:s3:::${raw.s3.bucket.name}` },
      object: {
        ...raw.s3.object,
        key: encodeS3EventKey(raw.s3.object.key),
        eTag: raw.s3.object.eTag ?? '',
        sequencer: sequencer.toUpperCase(),
      },
    },
  };
}

/** The body S3 puts in an SQS message for these records. */
export function notificationBody(records: readonly S3EventRecord[]): string {
  return JSON.stringify({ Records: records });
}

function matches(record: S3EventRecord, filter: EventFilter): boolean {
  if (!record.eventName.startsWith('ObjectCreated:')) return false;
  if (filter.bucket !== undefined && record.s3.bucket.name !== filter.bucket) return false;
  return filter.prefix === undefined || decodeS3EventKey(record.s3.object.key).startsWith(filter.prefix);
}

/** A running twin; see {@link startLocalS3}. */
export class LocalS3 {
  /** `http://127.0.0.1:<port>`. */
  public readonly endpoint: string;
  private readonly subscribers = new Set<{ filter: EventFilter; queue: AsyncQueue<S3EventRecord> }>();
  private sharedClient: S3Client | undefined;
  private stopping: Promise<void> | undefined;

  /** @internal use {@link startLocalS3} */
  constructor(
    private readonly child: ChildProcess,
    readonly host: string,
    readonly port: number,
    readonly region: string,
  ) {
    this.endpoint = `http://${host}:${port}`;
    child.on('message', (message: ChildMessage) => {
      if (message.type !== 'event') return;
      const records = (message.event as { Records?: S3EventRecord[] }).Records ?? [];
      for (const raw of records) {
        const record = toNotificationRecord(raw, region);
        for (const { filter, queue } of this.subscribers) if (matches(record, filter)) queue.push(record);
      }
    });
  }

  /** Client settings for this twin: path-style addressing, its key pair, checksums only where required. */
  clientConfig(overrides: S3ClientConfig = {}): S3ClientConfig {
    return {
      endpoint: this.endpoint,
      region: this.region,
      forcePathStyle: true,
      credentials: { ...LOCAL_S3_CREDENTIALS },
      ...overrides,
      ...S3_CLIENT_DEFAULTS,
    };
  }

  /**
   * A new client for this twin (`overrides` e.g. for other credentials). s3rver computes the canonical URI of a
   * bucket-level request (ListObjectsV2, HeadBucket) without the trailing slash that SDK v3 sends in path-style
   * requests (`/bucket/`), so every such request would fail its signature check; the client drops that slash
   * before signing. Object requests are untouched.
   */
  newClient(overrides: S3ClientConfig = {}): S3Client {
    const client = makeS3Client(this.clientConfig(overrides));
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { path?: unknown };
        if (typeof request.path === 'string' && /^\/[^/]+\/$/.test(request.path)) {
          request.path = request.path.slice(0, -1);
        }
        return next(args);
      },
      { step: 'build', name: 'localS3BucketPath' },
    );
    return client;
  }

  /** A client for this twin, built once and shared. */
  client(): S3Client {
    this.sharedClient ??= this.newClient();
    return this.sharedClient;
  }

  async createBucket(name: string): Promise<void> {
    await this.client().send(new CreateBucketCommand({ Bucket: name }));
  }

  /**
   * Created-object events from now on, as S3 event records (one per object). Events are queued until read;
   * `close()` the queue (or leave a `for await` loop) to unsubscribe.
   */
  objectCreated(filter: EventFilter = {}): AsyncQueue<S3EventRecord> {
    const entry = { filter, queue: new AsyncQueue<S3EventRecord>(() => this.subscribers.delete(entry)) };
    this.subscribers.add(entry);
    return entry.queue;
  }

  /** Stops the server and ends every event queue. The data folder is kept. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const { queue } of [...this.subscribers]) queue.close();
      this.sharedClient?.destroy();
      if (this.child.exitCode !== null || this.child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      const stop: ParentMessage = { type: 'stop' };
      if (this.child.connected) this.child.send(stop);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    })();
    return this.stopping;
  }
}

/** Starts a twin on a free port of `host`, with its data under `dataDir`. */
export async function startLocalS3(options: LocalS3Options): Promise<LocalS3> {
  const host = options.host ?? '127.0.0.1';
  const region = options.region ?? 'us-east-1';
  await mkdir(options.dataDir, { recursive: true });
  const serverOptions: ServerOptions = { directory: options.dataDir, host, buckets: options.buckets ?? [] };
  // Run as TypeScript through tsx when this module is itself TypeScript (tests, `npm run cli`).
  const ext = extname(__filename);
  const execArgv = ['--openssl-legacy-provider', ...(ext === '.ts' ? ['--require', require.resolve('tsx/cjs')] : [])];
  const child = fork(join(__dirname, `local-s3-server${ext}`), [JSON.stringify(serverOptions)], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`local S3 did not start within ${options.startTimeoutMs ?? 30000} ms`));
    }, options.startTimeoutMs ?? 30000);
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (message: ChildMessage) => {
      if (message.type === 'ready') {
        done();
        resolve(message.port);
      } else if (message.type === 'failed') {
        done();
        child.kill('SIGKILL');
        reject(new Error(`local S3 failed to start: ${message.message}`));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      done();
      reject(new Error(`local S3 exited during start-up (${signal ?? `code ${code}`})`));
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
  return new LocalS3(child, host, port, region);
}
