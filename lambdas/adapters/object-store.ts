/**
 * The object-store port: what the processing core (and the notary and loader) need from S3, and nothing more.
 * `S3ObjectStore` implements it on AWS S3; the local runtime uses the same adapter against the local S3 twin
 * (lambdas/local/local-s3.ts), so one implementation is exercised everywhere.
 *
 * Failures are classified as in DESIGN.md §5 (see `classifyS3Error` in s3-object-store.ts for the table):
 * - TransientError: throttling (503 SlowDown), 500/502/503/504, network resets and time-outs. Retry with backoff.
 * - PermanentError: the object itself cannot be read or written (no such key or version, archived object,
 *   request refused for the object's sake). Quarantine/record and acknowledge.
 * - ConfigError: the deployment is wrong (no such bucket, access denied, bad credentials, wrong region). These can
 *   surface mid-batch (an IAM policy edited under a running stack); a handler must then NOT quarantine the object
 *   but leave the message to be retried and dead-lettered, so that it can be redriven once the deployment is fixed.
 */
import type { Readable } from 'node:stream';
import { PermanentError } from '../shared/errors';

/** Metadata of one stored object. `etag` is given without the surrounding quotes, as S3 event records carry it. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: Date;
  /** Absent for objects in buckets that never had versioning enabled. */
  readonly versionId?: string;
  readonly contentType?: string;
  /**
   * User-defined metadata (`x-amz-meta-*`), names in lower case without the prefix, e.g. `timezone` as the upload
   * API has shippers send it. Absent when the object has none.
   */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** An object being read. `body` is a stream: read it to the end or destroy it, or the connection leaks. */
export interface ObjectBody extends ObjectInfo {
  /**
   * The object's bytes, streamed from the server as they arrive (never buffered whole). A network failure while
   * reading surfaces as a `TransientError` on the stream.
   */
  readonly body: Readable;
}

/** One entry of a listing. */
export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: Date;
}

export interface GetOptions {
  /** Read this version instead of the current one (the ledger keys objects by version). */
  readonly versionId?: string;
  /** Aborts the request, e.g. when the function is about to time out. */
  readonly signal?: AbortSignal;
}

export interface PutOptions {
  /** @default 'application/octet-stream' */
  readonly contentType?: string;
  /**
   * Byte length of a stream body. With it the stream goes up in one PUT; without it the stream is sent as a
   * multipart upload (whose completion carries the same create-only condition).
   */
  readonly contentLength?: number;
  readonly signal?: AbortSignal;
}

/**
 * `created`: this call stored the object. `exists`: an object was already stored under the key, so nothing was
 * written. Output keys are deterministic (DESIGN.md §3.3), so `exists` means a previous attempt already produced
 * this output and the step counts as done: a duplicate is not an error.
 */
export type PutResult = 'created' | 'exists';

export interface ObjectStore {
  /** Streams an object. Throws `NoSuchObjectError` (a PermanentError) when the key or version does not exist. */
  get(bucket: string, key: string, options?: GetOptions): Promise<ObjectBody>;

  /** Metadata of an object, or `undefined` when there is none under the key (or that version). */
  head(bucket: string, key: string, options?: Omit<GetOptions, 'signal'>): Promise<ObjectInfo | undefined>;

  /**
   * Create-only write: the request carries `If-None-Match: *`, so S3 refuses to replace an existing object
   * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html) and the answer tells whether
   * this call wrote it.
   */
  putIfAbsent(bucket: string, key: string, body: Uint8Array | Readable, options?: PutOptions): Promise<PutResult>;

  /** Every object under `prefix`, in key order, fetched page by page as the caller iterates. */
  list(bucket: string, prefix: string): AsyncIterable<ListedObject>;

  /** Deletes the object (or one version). Deleting a key that does not exist succeeds, as in S3. */
  delete(bucket: string, key: string, options?: { readonly versionId?: string }): Promise<void>;
}

/**
 * The object (or the requested version) does not exist: deleted, aged off, or never written. Its `name` stays
 * `PermanentError` (the class the handlers switch on); test for it with `instanceof`.
 */
export class NoSuchObjectError extends PermanentError {
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly versionId: string | undefined,
    options?: { cause?: unknown },
  ) {
    super('ERROR', `no object ${key}${versionId ? ` (version ${versionId})` : ''} in bucket ${bucket}`, options);
  }
}
