/**
 * The child process behind lambdas/local/local-s3.ts: an s3rver (an S3-compatible server that checks SigV4
 * signatures and presigned-URL expiry, and emits S3 event JSON) with two additions that make it behave like the
 * buckets of DESIGN.md §3.3:
 *
 * - create-only writes: s3rver ignores `If-None-Match` on PutObject and CompleteMultipartUpload and would overwrite.
 *   Here such a write is refused with `412 PreconditionFailed` when the key exists, checked and written under a
 *   per-key lock, after s3rver has authenticated the request (the check sits in the store, where s3rver commits
 *   the object), as S3 does it (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html);
 * - no anonymous access: s3rver serves unsigned requests; our buckets block public access, so they get
 *   `403 AccessDenied`.
 *
 * It runs in its own process because s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3
 * only offers through its legacy provider (`node --openssl-legacy-provider`): without it every listing of more
 * than 1,000 keys fails. The parent talks to it over the IPC channel (see `ChildMessage` / `ParentMessage`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';

/** What the parent passes as the first command-line argument (JSON). */
export interface ServerOptions {
  /** Folder holding the buckets and objects. */
  readonly directory: string;
  /** Address to listen on. */
  readonly host: string;
  /** Buckets created before the server accepts requests. */
  readonly buckets: readonly string[];
}

/** Messages from the child to the parent. `event` carries s3rver's S3 event JSON (`{ Records: [...] }`) as is. */
export type ChildMessage =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'event'; readonly event: unknown }
  | { readonly type: 'failed'; readonly message: string };

/** Messages from the parent to the child. */
export type ParentMessage = { readonly type: 'stop' };

// s3rver ships no type declarations; these are the parts used here.
interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
}
interface FilesystemStoreInstance {
  putBucket(name: string): Promise<unknown>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
}
interface S3rverInstance {
  store: FilesystemStoreInstance;
  context: { store: FilesystemStoreInstance };
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: 'event', listener: (event: unknown) => void): void;
}
type S3ErrorClass = new (code: string, message: string, detail?: Record<string, string>) => Error;

const S3rver = require('@20minutes/s3rver') as new (options: Record<string, unknown>) => S3rverInstance;
const FilesystemStore = require('@20minutes/s3rver/lib/stores/filesystem') as new (
  directory: string,
) => FilesystemStoreInstance;
const S3Error = require('@20minutes/s3rver/lib/models/error') as S3ErrorClass;

/** Set for the duration of one HTTP request: does it carry `If-None-Match: *`? */
const requestState = new AsyncLocalStorage<{ readonly createOnly: boolean }>();

/** Serialises the check-then-write of conditional writes per key, so two concurrent creates cannot both win. */
class KeyLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/**
 * s3rver funnels PutObject and CompleteMultipartUpload through `store.putObject`, after authentication; this is
 * where S3 evaluates the condition too (at completion, not when the upload starts).
 */
function createOnlyStore(directory: string): FilesystemStoreInstance {
  const locks = new KeyLocks();
  const store = new FilesystemStore(directory);
  const put = store.putObject.bind(store);
  store.putObject = async (object) => {
    if (!requestState.getStore()?.createOnly) return put(object);
    return locks.run(`${object.bucket}/${object.key}`, async () => {
      if (await store.existsObject(object.bucket, object.key)) {
        // Read the unread request body so that the client receives the answer instead of a reset connection.
        if (!Buffer.isBuffer(object.content)) {
          object.content.resume();
          await finished(object.content).catch(() => undefined);
        }
        throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
          Condition: 'If-None-Match',
        });
      }
      return put(object);
    });
  };
  return store;
}

function isSigned(req: IncomingMessage): boolean {
  if (req.headers.authorization) return true;
  const query = new URL(req.url ?? '/', 'http://local').searchParams;
  return query.has('X-Amz-Algorithm') || query.has('Signature');
}

function accessDenied(res: ServerResponse): void {
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
  res.writeHead(403, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

async function main(): Promise<void> {
  const send = (message: ChildMessage) => process.send?.(message);
  const options = JSON.parse(process.argv[2] ?? '{}') as ServerOptions;
  // The server dies with its parent: an orphaned twin would hold the data folder and the port.
  process.on('disconnect', () => process.exit(0));

  const s3rver = new S3rver({ directory: options.directory, silent: true, vhostBuckets: false });
  const store = createOnlyStore(options.directory);
  s3rver.store = store;
  s3rver.context.store = store;
  for (const bucket of options.buckets) await store.putBucket(bucket);
  s3rver.on('event', (event) => send({ type: 'event', event }));

  const handle = s3rver.callback();
  const server = createServer((req, res) => {
    if (req.method !== 'OPTIONS' && !isSigned(req)) {
      req.resume();
      accessDenied(res);
      return;
    }
    const createOnly = (req.method === 'PUT' || req.method === 'POST') && req.headers['if-none-match']?.trim() === '*';
    requestState.run({ createOnly }, () => handle(req, res));
  });
  process.on('message', (message: ParentMessage) => {
    if (message.type !== 'stop') return;
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
  server.listen(0, options.host, () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the server has no TCP address');
    send({ type: 'ready', port: address.port });
  });
}

// Only as the child's entry point: the parent imports nothing but types from this module.
if (require.main === module) {
  main().catch((err: unknown) => {
    process.send?.({
      type: 'failed',
      message: err instanceof Error ? err.message : String(err),
    } satisfies ChildMessage);
    process.exitCode = 1;
  });
}
