/**
 * `ObjectStore` on Amazon S3 (and on anything that speaks its API, such as the local twin). The client is injected:
 * the handler builds it once per container with {@link makeS3Client}.
 *
 * How S3 failures are classified (DESIGN.md §5), after the SDK's own retries (3 attempts, standard mode):
 * - TransientError: 500/502/503/504 (`SlowDown`, `InternalError`, `ServiceUnavailable`), 429, `RequestTimeout`,
 *   `OperationAborted` (409), `RequestTimeTooSkewed`, `ExpiredToken`, network errors (`ECONNRESET`, `ETIMEDOUT`, …),
 *   the SDK's `TimeoutError` and aborted requests: they go away on retry (new socket, corrected clock, refreshed
 *   credentials), and the request may never have reached S3. A body stream that breaks half-way too.
 * - PermanentError: `NoSuchKey` / `NoSuchVersion` (as `NoSuchObjectError`; `head` answers `undefined` instead): the
 *   object is gone (deleted, aged off), and S3 is strongly consistent, so a retry cannot bring it back.
 *   `InvalidObjectState` (archived), `InvalidRange`, `EntityTooLarge` and any other 4xx: the object, or the request
 *   built from it, can never succeed.
 * - ConfigError: `NoSuchBucket`, `AccessDenied` and every other 403, `InvalidAccessKeyId`, `SignatureDoesNotMatch`,
 *   `PermanentRedirect` / `AuthorizationHeaderMalformed` (wrong region), `KMS.*`: the deployment is wrong (bucket
 *   name, IAM or key policy, credentials, region), never the object, so it is never quarantined (see object-store.ts).
 * - Errors without an S3 status that are not network errors (a bug, a TypeError) are rethrown as they are.
 *
 * Conditional writes: `412 PreconditionFailed` means an object already exists under the key → `exists`.
 * `409 ConditionalRequestConflict` means a conflicting write or delete on the same key was in flight
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html); since our output keys are only
 * ever written by duplicate workers producing the same bytes, the key is checked with HEAD: present → `exists`,
 * absent (the other request was a delete, or failed) → TransientError so the write is retried.
 */
import { PassThrough, Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  PutObjectCommand,
  paginateListObjectsV2,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ConfigError, PermanentError, TransientError } from '../shared/errors';
import {
  type GetOptions,
  type ListedObject,
  NoSuchObjectError,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type PutResult,
} from './object-store';

/**
 * Settings every S3 client of the pipeline needs. Since SDK 3.729 the client adds CRC32 checksums to every upload
 * (in an `aws-chunked` trailer for streams) and validates response checksums by default; S3-compatible servers
 * (the local twin) and presigned PUTs mishandle those, and we hash the raw bytes ourselves anyway (DESIGN.md §3.9).
 * `WHEN_REQUIRED` limits both to operations that require them.
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-dataintegrity.html
 */
export const S3_CLIENT_DEFAULTS = {
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
} as const satisfies S3ClientConfig;

/** An S3 client with {@link S3_CLIENT_DEFAULTS} applied under the given configuration. */
export function makeS3Client(config: S3ClientConfig = {}): S3Client {
  return new S3Client({ ...config, ...S3_CLIENT_DEFAULTS });
}

/** Part size of multipart uploads of streams of unknown length: memory use is about partSize × queueSize. */
const MULTIPART_PART_BYTES = 8 * 1024 * 1024;
const MULTIPART_QUEUE = 2;

const TRANSIENT_NAMES = new Set([
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'OperationAborted',
  'RequestTimeTooSkewed',
  'ExpiredToken',
  'TooManyRequests',
  'Throttling',
  'ThrottlingException',
  'AbortError',
]);
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);
const MISSING_OBJECT_NAMES = new Set(['NoSuchKey', 'NoSuchVersion']);
const CONFIG_NAMES = new Set([
  'NoSuchBucket',
  'AccessDenied',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidBucketName',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
  'InvalidToken',
]);
/** Refusals about the object itself, whatever their status (`InvalidObjectState` is a 403: archived object). */
const OBJECT_STATE_NAMES = new Set(['InvalidObjectState', 'InvalidRange', 'EntityTooLarge', 'EntityTooSmall']);
const PRECONDITION_FAILED = 'PreconditionFailed';
const CONDITIONAL_CONFLICT = 'ConditionalRequestConflict';

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

function shape(err: unknown): AwsErrorShape {
  return typeof err === 'object' && err !== null ? (err as AwsErrorShape) : {};
}

function statusOf(err: unknown): number | undefined {
  return shape(err).$metadata?.httpStatusCode;
}

/** The S3 error code: the SDK puts it in `name`; XML-less responses (HEAD) only have the status. */
function codeOf(err: unknown): string {
  const e = shape(err);
  return e.Code ?? e.name ?? 'Error';
}

/**
 * Maps an error from an S3 call to the pipeline's error classes; see the module comment for the table. `what`
 * names the operation and object for the message; `ref` names the object whose absence a 404 reports. Errors that
 * came neither from S3 nor from the network (programming errors) are returned unchanged.
 */
export function classifyS3Error(
  err: unknown,
  what: string,
  ref?: { bucket: string; key: string; versionId?: string | undefined },
): unknown {
  if (err instanceof TransientError || err instanceof PermanentError || err instanceof ConfigError) return err;
  const e = shape(err);
  const status = statusOf(err);
  const code = codeOf(err);
  const detail = `${what}: ${code}${status ? ` (HTTP ${status})` : ''}${e.message ? `: ${e.message}` : ''}`;
  const options = { cause: err };
  const network = e.code !== undefined && NETWORK_CODES.has(e.code);
  if (network || TRANSIENT_NAMES.has(code) || (status !== undefined && (status >= 500 || status === 429))) {
    return new TransientError(detail, options);
  }
  if (status === undefined) return err;
  if (MISSING_OBJECT_NAMES.has(code) || (status === 404 && code === 'NotFound')) {
    return ref
      ? new NoSuchObjectError(ref.bucket, ref.key, ref.versionId, options)
      : new PermanentError('ERROR', detail, options);
  }
  if (OBJECT_STATE_NAMES.has(code)) return new PermanentError('ERROR', detail, options);
  if (CONFIG_NAMES.has(code) || code.startsWith('KMS.') || status === 403 || status === 301) {
    return new ConfigError(`${detail} (check the bucket name, region, IAM and key policies, and credentials)`, options);
  }
  return new PermanentError('ERROR', detail, options);
}

function isNotFound(err: unknown): boolean {
  const code = codeOf(err);
  return statusOf(err) === 404 && (code === 'NotFound' || MISSING_OBJECT_NAMES.has(code));
}

function unquote(etag: string | undefined): string {
  return (etag ?? '').replace(/^"(.*)"$/, '$1');
}

/**
 * Passes the SDK's response stream through, turning a failure while reading (a reset connection, a stalled
 * socket) into a TransientError: the core only has to tell error classes apart, never socket codes. Destroying
 * the returned stream releases the connection.
 */
function transientOnError(source: Readable, what: string): Readable {
  const out = new PassThrough();
  source.on('error', (err) => {
    const mapped = classifyS3Error(err, `${what}: reading the body`);
    // Whatever breaks a response stream half-way is the transport's doing, even without a recognised code.
    out.destroy(
      mapped === err
        ? new TransientError(`${what}: reading the body: ${err.message}`, { cause: err })
        : (mapped as Error),
    );
  });
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

export class S3ObjectStore implements ObjectStore {
  constructor(private readonly client: S3Client) {}

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<ObjectBody> {
    const { versionId, signal } = options;
    const what = `GetObject s3://${bucket}/${key}`;
    let res: GetObjectCommandOutput;
    try {
      res = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
        signal ? { abortSignal: signal } : {},
      );
    } catch (err) {
      throw classifyS3Error(err, what, { bucket, key, versionId });
    }
    // In Node.js the SDK returns the HTTP response itself (an IncomingMessage): nothing is buffered here.
    if (!(res.Body instanceof Readable)) throw new TransientError(`${what}: the response has no body stream`);
    return {
      key,
      body: transientOnError(res.Body, what),
      size: res.ContentLength ?? 0,
      etag: unquote(res.ETag),
      lastModified: res.LastModified ?? new Date(0),
      ...(res.VersionId ? { versionId: res.VersionId } : {}),
      ...(res.ContentType ? { contentType: res.ContentType } : {}),
      ...(res.Metadata && Object.keys(res.Metadata).length > 0 ? { metadata: res.Metadata } : {}),
    };
  }

  async head(bucket: string, key: string, options: { versionId?: string } = {}): Promise<ObjectInfo | undefined> {
    const { versionId } = options;
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
      return {
        key,
        size: res.ContentLength ?? 0,
        etag: unquote(res.ETag),
        lastModified: res.LastModified ?? new Date(0),
        ...(res.VersionId ? { versionId: res.VersionId } : {}),
        ...(res.ContentType ? { contentType: res.ContentType } : {}),
        ...(res.Metadata && Object.keys(res.Metadata).length > 0 ? { metadata: res.Metadata } : {}),
      };
    } catch (err) {
      // A HEAD answer has no body, so S3 can only say 404 (`NotFound`). Without s3:ListBucket S3 answers 403 instead
      // of 404, which lands in ConfigError: the process role has List on its prefixes.
      if (isNotFound(err)) return undefined;
      throw classifyS3Error(err, `HeadObject s3://${bucket}/${key}`, { bucket, key, versionId });
    }
  }

  async putIfAbsent(
    bucket: string,
    key: string,
    body: Uint8Array | Readable,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const what = `PutObject (If-None-Match: *) s3://${bucket}/${key}`;
    const params = {
      Bucket: bucket,
      Key: key,
      ContentType: options.contentType ?? 'application/octet-stream',
      IfNoneMatch: '*',
    };
    const abort = options.signal ? { abortSignal: options.signal } : {};
    try {
      if (body instanceof Readable && options.contentLength === undefined) {
        // A stream of unknown length cannot go up in one PUT (S3 needs Content-Length). lib-storage passes
        // IfNoneMatch on to CompleteMultipartUpload, where S3 evaluates the condition.
        const upload = new Upload({
          client: this.client,
          params: { ...params, Body: body },
          partSize: MULTIPART_PART_BYTES,
          queueSize: MULTIPART_QUEUE,
        });
        const abortUpload = () => void upload.abort();
        options.signal?.addEventListener('abort', abortUpload, { once: true });
        try {
          await upload.done();
        } finally {
          options.signal?.removeEventListener('abort', abortUpload);
        }
      } else {
        const contentLength = body instanceof Readable ? options.contentLength : body.byteLength;
        await this.client.send(new PutObjectCommand({ ...params, Body: body, ContentLength: contentLength }), abort);
      }
      return 'created';
    } catch (err) {
      const code = codeOf(err);
      if (code === PRECONDITION_FAILED || statusOf(err) === 412) return 'exists';
      if (code === CONDITIONAL_CONFLICT) {
        if (await this.head(bucket, key)) return 'exists';
        throw new TransientError(`${what}: a conflicting request on the key was in flight and no object is there`, {
          cause: err,
        });
      }
      throw classifyS3Error(err, what, { bucket, key });
    }
  }

  async *list(bucket: string, prefix: string): AsyncIterable<ListedObject> {
    const pages = paginateListObjectsV2({ client: this.client }, { Bucket: bucket, Prefix: prefix });
    const iterator = pages[Symbol.asyncIterator]();
    while (true) {
      let page: Awaited<ReturnType<typeof iterator.next>>;
      try {
        page = await iterator.next();
      } catch (err) {
        throw classifyS3Error(err, `ListObjectsV2 s3://${bucket}/${prefix}`);
      }
      if (page.done) return;
      for (const item of page.value.Contents ?? []) {
        if (item.Key === undefined) continue;
        yield {
          key: item.Key,
          size: item.Size ?? 0,
          etag: unquote(item.ETag),
          lastModified: item.LastModified ?? new Date(0),
        };
      }
    }
  }

  async delete(bucket: string, key: string, options: { versionId?: string } = {}): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, VersionId: options.versionId }));
    } catch (err) {
      throw classifyS3Error(err, `DeleteObject s3://${bucket}/${key}`);
    }
  }
}
