import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { NoSuchObjectError } from '../../../lambdas/adapters/object-store';
import { classifyS3Error, makeS3Client, S3ObjectStore } from '../../../lambdas/adapters/s3-object-store';
import { ConfigError, PermanentError, TransientError } from '../../../lambdas/shared/errors';

const s3 = mockClient(S3Client);
const store = new S3ObjectStore(new S3Client({ region: 'eu-west-1' }));

beforeEach(() => s3.reset());

/** An error as the SDK raises it for an S3 error response. */
function s3Error(name: string, status: number, fault: 'client' | 'server' = status >= 500 ? 'server' : 'client') {
  return new S3ServiceException({ name, $fault: fault, $metadata: { httpStatusCode: status }, message: name });
}

function networkError(code: string): Error {
  return Object.assign(new Error(`socket problem ${code}`), { code });
}

type ErrorClass = typeof TransientError | typeof PermanentError | typeof ConfigError | typeof NoSuchObjectError;

describe('S3ObjectStore error mapping', () => {
  test.each<[string, Error, ErrorClass]>([
    ['503 SlowDown', s3Error('SlowDown', 503), TransientError],
    ['500 InternalError', s3Error('InternalError', 500), TransientError],
    ['502 without a code', s3Error('Unknown', 502), TransientError],
    ['504 gateway time-out', s3Error('GatewayTimeout', 504), TransientError],
    ['429', s3Error('TooManyRequests', 429), TransientError],
    ['400 RequestTimeout (socket idle at S3)', s3Error('RequestTimeout', 400), TransientError],
    ['409 OperationAborted', s3Error('OperationAborted', 409), TransientError],
    ['403 RequestTimeTooSkewed', s3Error('RequestTimeTooSkewed', 403), TransientError],
    ['400 ExpiredToken', s3Error('ExpiredToken', 400), TransientError],
    ['connection reset', networkError('ECONNRESET'), TransientError],
    ['connect time-out', networkError('ETIMEDOUT'), TransientError],
    ['DNS failure', networkError('EAI_AGAIN'), TransientError],
    ['SDK time-out', Object.assign(new Error('timed out'), { name: 'TimeoutError' }), TransientError],
    ['NoSuchKey', new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }), NoSuchObjectError],
    ['NoSuchVersion', s3Error('NoSuchVersion', 404), NoSuchObjectError],
    ['NoSuchBucket', s3Error('NoSuchBucket', 404), ConfigError],
    ['AccessDenied', s3Error('AccessDenied', 403), ConfigError],
    ['403 from KMS', s3Error('KMS.DisabledException', 400), ConfigError],
    ['InvalidAccessKeyId', s3Error('InvalidAccessKeyId', 403), ConfigError],
    ['wrong region', s3Error('PermanentRedirect', 301), ConfigError],
    ['archived object', s3Error('InvalidObjectState', 403), PermanentError],
    ['InvalidRange', s3Error('InvalidRange', 416), PermanentError],
  ])('classifies GetObject failing with %s', async (_name, error, expected) => {
    s3.on(GetObjectCommand).rejects(error);
    const thrown = await store.get('bucket', 'raw/key', { versionId: 'v1' }).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(expected);
    expect((thrown as Error).cause).toBe(error);
  });

  test('a missing object names the bucket, key and version', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'gone', $metadata: { httpStatusCode: 404 } }));
    const thrown = (await store.get('bucket', 'raw/key', { versionId: 'v1' }).catch((e) => e)) as NoSuchObjectError;
    expect(thrown).toBeInstanceOf(PermanentError);
    expect(thrown).toMatchObject({ bucket: 'bucket', key: 'raw/key', versionId: 'v1', outcome: 'ERROR' });
  });

  test('errors that did not come from S3 or the network pass through unchanged', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    s3.on(GetObjectCommand).rejects(bug);
    await expect(store.get('bucket', 'key')).rejects.toBe(bug);
  });

  test('classifyS3Error keeps an error that is already classified', () => {
    const already = new TransientError('retry me');
    expect(classifyS3Error(already, 'anything')).toBe(already);
  });

  test('a connection reset while the body is read fails the stream with a TransientError', async () => {
    const body = new Readable({ read() {} });
    s3.on(GetObjectCommand).resolves({ Body: body as never, ContentLength: 10, ETag: '"abc"' });
    const object = await store.get('bucket', 'key');
    body.push(Buffer.from('12345'));
    setImmediate(() => body.destroy(networkError('ECONNRESET')));
    await expect(object.body.toArray()).rejects.toBeInstanceOf(TransientError);
  });

  test('any failure of the body stream counts as transient, even without a known code', async () => {
    const body = new Readable({ read() {} });
    s3.on(GetObjectCommand).resolves({ Body: body as never, ContentLength: 10, ETag: '"abc"' });
    const object = await store.get('bucket', 'key');
    setImmediate(() => body.destroy(new Error('aborted')));
    await expect(object.body.toArray()).rejects.toBeInstanceOf(TransientError);
  });

  test('destroying the returned body releases the response stream', async () => {
    const body = new Readable({ read() {} });
    s3.on(GetObjectCommand).resolves({ Body: body as never, ContentLength: 10, ETag: '"abc"' });
    const object = await store.get('bucket', 'key');
    object.body.destroy();
    await new Promise((resolve) => setImmediate(resolve));
    expect(body.destroyed).toBe(true);
  });

  test('get reports size, unquoted ETag, version and last-modified', async () => {
    const lastModified = new Date('2024-05-01T10:00:00Z');
    s3.on(GetObjectCommand).resolves({
      Body: Readable.from([Buffer.from('0123456789')]) as never,
      ContentLength: 10,
      ETag: '"9a0364b9e99bb480dd25e1f0284c8555"',
      VersionId: 'v7',
      LastModified: lastModified,
    });
    const object = await store.get('bucket', 'key');
    expect(object).toMatchObject({ size: 10, etag: '9a0364b9e99bb480dd25e1f0284c8555', versionId: 'v7', lastModified });
    expect(Buffer.concat(await object.body.toArray()).toString()).toBe('0123456789');
  });

  test('head answers undefined for 404 and a ConfigError for 403', async () => {
    s3.on(HeadObjectCommand).rejectsOnce(s3Error('NotFound', 404)).rejectsOnce(s3Error('Forbidden', 403));
    expect(await store.head('bucket', 'key')).toBeUndefined();
    await expect(store.head('bucket', 'key')).rejects.toBeInstanceOf(ConfigError);
  });

  test('delete maps a throttled request to a TransientError', async () => {
    s3.on(DeleteObjectCommand).rejects(s3Error('SlowDown', 503));
    await expect(store.delete('bucket', 'key')).rejects.toBeInstanceOf(TransientError);
  });

  test('a failing page of a listing is classified', async () => {
    s3.on(ListObjectsV2Command).rejects(s3Error('AccessDenied', 403));
    const listing = store.list('bucket', 'p/')[Symbol.asyncIterator]();
    await expect(listing.next()).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('S3ObjectStore.putIfAbsent', () => {
  test('sends If-None-Match: * with the byte length of a buffer', async () => {
    s3.on(PutObjectCommand).resolves({});
    expect(await store.putIfAbsent('bucket', 'tahoe/x', Buffer.from('abc'), { contentType: 'text/plain' })).toBe(
      'created',
    );
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'bucket',
      Key: 'tahoe/x',
      IfNoneMatch: '*',
      ContentLength: 3,
      ContentType: 'text/plain',
    });
  });

  test('412 PreconditionFailed means the object exists', async () => {
    s3.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));
    expect(await store.putIfAbsent('bucket', 'k', Buffer.from('abc'))).toBe('exists');
  });

  test('409 ConditionalRequestConflict with the object in place means it exists', async () => {
    s3.on(PutObjectCommand).rejects(s3Error('ConditionalRequestConflict', 409));
    s3.on(HeadObjectCommand).resolves({ ContentLength: 3, ETag: '"e"' });
    expect(await store.putIfAbsent('bucket', 'k', Buffer.from('abc'))).toBe('exists');
  });

  test('409 ConditionalRequestConflict with no object there is retried', async () => {
    s3.on(PutObjectCommand).rejects(s3Error('ConditionalRequestConflict', 409));
    s3.on(HeadObjectCommand).rejects(s3Error('NotFound', 404));
    await expect(store.putIfAbsent('bucket', 'k', Buffer.from('abc'))).rejects.toBeInstanceOf(TransientError);
  });

  test('a write refused by the bucket policy is a ConfigError', async () => {
    s3.on(PutObjectCommand).rejects(s3Error('AccessDenied', 403));
    await expect(store.putIfAbsent('bucket', 'k', Buffer.from('abc'))).rejects.toBeInstanceOf(ConfigError);
  });

  test('a stream of known length goes up in one conditional PUT', async () => {
    s3.on(PutObjectCommand).resolves({});
    const body = Readable.from([Buffer.from('abc')]);
    expect(await store.putIfAbsent('bucket', 'k', body, { contentLength: 3 })).toBe('created');
    expect(s3.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({ IfNoneMatch: '*', ContentLength: 3 });
  });
});

describe('S3ObjectStore.list', () => {
  test('follows continuation tokens until the last page', async () => {
    const at = new Date('2024-05-01T00:00:00Z');
    s3.on(ListObjectsV2Command, { ContinuationToken: undefined })
      .resolves({
        IsTruncated: true,
        NextContinuationToken: 't1',
        Contents: [{ Key: 'p/a', Size: 1, ETag: '"1"', LastModified: at }],
      })
      .on(ListObjectsV2Command, { ContinuationToken: 't1' })
      .resolves({ IsTruncated: false, Contents: [{ Key: 'p/b', Size: 2, ETag: '"2"', LastModified: at }] });
    const listed = [];
    for await (const object of store.list('bucket', 'p/')) listed.push(object);
    expect(listed).toEqual([
      { key: 'p/a', size: 1, etag: '1', lastModified: at },
      { key: 'p/b', size: 2, etag: '2', lastModified: at },
    ]);
    expect(s3.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input.Prefix)).toEqual(['p/', 'p/']);
  });
});

describe('makeS3Client', () => {
  test('limits checksums to the operations that require them, whatever else is configured', async () => {
    const client = makeS3Client({ region: 'eu-west-1', requestChecksumCalculation: 'WHEN_SUPPORTED' });
    expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    client.destroy();
  });
});
