import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NoSuchObjectError } from '../../../lambdas/adapters/object-store';
import { S3ObjectStore } from '../../../lambdas/adapters/s3-object-store';
import { type LocalS3, notificationBody, startLocalS3 } from '../../../lambdas/local/local-s3';
import { ConfigError } from '../../../lambdas/shared/errors';
import { decodeS3EventKey } from '../../../lambdas/shared/s3-keys';

const RAW = 'raw-bucket';
const CURATED = 'curated-bucket';
const MiB = 1024 * 1024;

let dataDir: string;
let s3: LocalS3;
let store: S3ObjectStore;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'local-s3-'));
  s3 = await startLocalS3({ dataDir, buckets: [RAW, CURATED] });
  store = new S3ObjectStore(s3.client());
});

afterAll(async () => {
  await s3?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** Counts the requests a client sends for one operation, e.g. the pages of a listing. */
function countRequests(client: S3Client, operation: string): { count: number } {
  const counter = { count: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === operation) counter.count += 1;
      return next(args);
    },
    { step: 'initialize', name: `count${operation}` },
  );
  return counter;
}

describe('S3ObjectStore against the local S3 twin', () => {
  test('streams a 20 MiB object back in small chunks with its size and ETag', async () => {
    const content = randomBytes(20 * MiB);
    const key = 'raw/tenant=acme/typetag=cowrie/dt=2024-05-01/hour=10/big.raw';
    expect(await store.putIfAbsent(RAW, key, Readable.from([content]), { contentLength: content.byteLength })).toBe(
      'created',
    );

    const object = await store.get(RAW, key);
    expect(object.size).toBe(content.byteLength);
    expect(object.etag).toBe(md5(content));

    const hash = createHash('sha256');
    let chunks = 0;
    let largest = 0;
    for await (const chunk of object.body as AsyncIterable<Buffer>) {
      hash.update(chunk);
      chunks += 1;
      largest = Math.max(largest, chunk.byteLength);
    }
    expect(hash.digest('hex')).toBe(sha256(content));
    // Arrives as the socket delivers it, never as one buffer of the whole object.
    expect(chunks).toBeGreaterThan(20);
    expect(largest).toBeLessThanOrEqual(MiB);
  });

  test('putIfAbsent creates once, then reports exists and leaves the first content in place', async () => {
    const key = 'tahoe/tahoe_raw/tenant=acme/dt=2024-05-01/once-00000.parquet';
    expect(await store.putIfAbsent(CURATED, key, Buffer.from('first'))).toBe('created');
    expect(await store.putIfAbsent(CURATED, key, Buffer.from('second, longer'))).toBe('exists');

    const object = await store.get(CURATED, key);
    expect(Buffer.concat(await object.body.toArray()).toString()).toBe('first');
  });

  test('of concurrent creates of one key exactly one wins', async () => {
    const key = 'tahoe/tahoe_edge/tenant=acme/dt=2024-05-01/race-00000.parquet';
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => store.putIfAbsent(CURATED, key, Buffer.from(`writer ${i}`))),
    );
    expect(results.filter((r) => r === 'created')).toHaveLength(1);
    expect(results.filter((r) => r === 'exists')).toHaveLength(7);
  });

  test('a stream of unknown length goes up as a multipart upload that is create-only too', async () => {
    const key = 'tahoe/tahoe_instance/tenant=acme/dt=2024-05-01/multi-00000.parquet';
    const parts = Array.from({ length: 9 }, (_, i) => Buffer.alloc(MiB, i));
    expect(await store.putIfAbsent(CURATED, key, Readable.from(parts))).toBe('created');
    // The second upload is multipart too: the condition is checked when it completes.
    const other = Array.from({ length: 9 }, () => Buffer.alloc(MiB, 0xff));
    expect(await store.putIfAbsent(CURATED, key, Readable.from(other))).toBe('exists');

    const object = await store.get(CURATED, key);
    expect(object.size).toBe(9 * MiB);
    const firstBytes = (await object.body.toArray()).map((c: Buffer) => c[0]);
    expect(firstBytes).not.toContain(0xff);
  });

  test('lists more than 1,000 keys across pages, in key order', async () => {
    const keys = Array.from({ length: 1050 }, (_, i) => `list/k${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => store.putIfAbsent(RAW, key, Buffer.from(key))));
    }
    const client = s3.newClient();
    const pages = countRequests(client, 'ListObjectsV2Command');

    const listed: string[] = [];
    for await (const object of new S3ObjectStore(client).list(RAW, 'list/')) listed.push(object.key);

    expect(listed).toEqual(keys);
    expect(pages.count).toBe(2);
  });

  test('head answers undefined and get a NoSuchObjectError for a missing key', async () => {
    expect(await store.head(RAW, 'raw/missing')).toBeUndefined();
    await expect(store.get(RAW, 'raw/missing')).rejects.toBeInstanceOf(NoSuchObjectError);
  });
});

describe('local S3 events', () => {
  test('delivers ObjectCreated records with the URL-encoded key, the size and the ETag, filtered by prefix', async () => {
    const events = s3.objectCreated({ bucket: RAW, prefix: 'raw/' });
    try {
      await store.putIfAbsent(RAW, 'elsewhere/not-raw.txt', Buffer.from('ignored'));
      const key = 'raw/tenant=acme/typetag=email/dt=2024-05-01/hour=11/01HXAMPLE0000000000000000.raw';
      const body = Buffer.from('a whole email');
      await store.putIfAbsent(RAW, key, body);

      const next = await events.next();
      expect(next.done).toBe(false);
      const record = next.value as Exclude<typeof next.value, undefined>;
      expect(record.eventName).toBe('ObjectCreated:Put');
      expect(record.s3.bucket).toMatchObject({ name: RAW, arn: `arn:aws:s3:::${RAW}` });
      expect(record.s3.object.key).toBe(
        'raw/tenant%3Dacme/typetag%3Demail/dt%3D2024-05-01/hour%3D11/01HXAMPLE0000000000000000.raw',
      );
      expect(decodeS3EventKey(record.s3.object.key)).toBe(key);
      expect(record.s3.object.size).toBe(body.byteLength);
      expect(record.s3.object.eTag).toBe((await store.head(RAW, key))?.etag);
      expect(JSON.parse(notificationBody([record]))).toEqual({ Records: [record] });
      expect(events.length).toBe(0);
    } finally {
      events.close();
    }
  });

  test('sequencers of successive events grow', async () => {
    const events = s3.objectCreated({ bucket: RAW, prefix: 'seq/' });
    try {
      await store.putIfAbsent(RAW, 'seq/a', Buffer.from('a'));
      await store.putIfAbsent(RAW, 'seq/b', Buffer.from('b'));
      const first = (await events.next()).value;
      const second = (await events.next()).value;
      expect(first?.s3.object.sequencer.length).toBe(second?.s3.object.sequencer.length);
      expect((first?.s3.object.sequencer ?? '') < (second?.s3.object.sequencer ?? '')).toBe(true);
    } finally {
      events.close();
    }
  });
});

describe('local S3 authentication', () => {
  test('rejects a request signed with the wrong secret', async () => {
    const forged = s3.newClient({ credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'not-the-secret' } });
    const key = 'raw/forged.txt';
    const error = await new S3ObjectStore(forged).putIfAbsent(RAW, key, Buffer.from('x')).catch((e: unknown) => e);
    forged.destroy();
    expect(error).toBeInstanceOf(ConfigError);
    expect(((error as Error).cause as Error).name).toBe('SignatureDoesNotMatch');
    expect(await store.head(RAW, key)).toBeUndefined();
  });

  test('rejects an unsigned request', async () => {
    await store.putIfAbsent(RAW, 'raw/public?', Buffer.from('secret'));
    const response = await fetch(`${s3.endpoint}/${RAW}/raw/public%3F`);
    expect(response.status).toBe(403);
    expect(await response.text()).toContain('<Code>AccessDenied</Code>');
  });

  test('accepts a presigned URL within its lifetime and rejects it once expired', async () => {
    const key = 'raw/presigned.txt';
    await store.putIfAbsent(RAW, key, Buffer.from('presigned content'));
    const command = new GetObjectCommand({ Bucket: RAW, Key: key });

    const fresh = await getSignedUrl(s3.client(), command, { expiresIn: 300 });
    const ok = await fetch(fresh);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('presigned content');

    // Signed an hour ago for five minutes: expired for 55 minutes now.
    const stale = await getSignedUrl(s3.client(), command, {
      expiresIn: 300,
      signingDate: new Date(Date.now() - 3600_000),
    });
    const refused = await fetch(stale);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('Request has expired');
  });

  test('a presigned create-only PUT creates once and is refused with 412 afterwards', async () => {
    const key = 'raw/tenant=acme/typetag=cowrie/dt=2024-05-01/hour=12/01HXAMPLE0000000000000001.raw';
    const url = await getSignedUrl(s3.client(), new PutObjectCommand({ Bucket: RAW, Key: key, IfNoneMatch: '*' }), {
      expiresIn: 300,
    });
    expect(new URL(url).searchParams.get('X-Amz-SignedHeaders')).toContain('if-none-match');

    const put = (body: string) => fetch(url, { method: 'PUT', headers: { 'If-None-Match': '*' }, body });
    expect((await put('first upload')).status).toBe(200);
    const second = await put('replacement');
    expect(second.status).toBe(412);
    expect(await second.text()).toContain('<Code>PreconditionFailed</Code>');

    const object = await store.get(RAW, key);
    expect(Buffer.concat(await object.body.toArray()).toString()).toBe('first upload');
  });
});

describe('local S3 lifecycle', () => {
  test('keeps objects in its data folder across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-s3-restart-'));
    try {
      const first = await startLocalS3({ dataDir: dir, buckets: ['keep'] });
      await new S3ObjectStore(first.client()).putIfAbsent('keep', 'k', Buffer.from('kept'));
      await first.stop();

      const second = await startLocalS3({ dataDir: dir });
      try {
        expect(second.port).toBeGreaterThan(0);
        const object = await new S3ObjectStore(second.client()).get('keep', 'k');
        expect(Buffer.concat(await object.body.toArray()).toString()).toBe('kept');
      } finally {
        await second.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('creates buckets on demand, whose objects then list like any other', async () => {
    await s3.createBucket('made-later');
    await store.putIfAbsent('made-later', 'p/one', Buffer.from('1'));
    const keys: string[] = [];
    for await (const object of store.list('made-later', 'p/')) keys.push(object.key);
    expect(keys).toEqual(['p/one']);
  });

  test('ends open event queues when stopped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'local-s3-stop-'));
    try {
      const twin = await startLocalS3({ dataDir: dir });
      const events = twin.objectCreated();
      const pending = events.next();
      await twin.stop();
      expect(await pending).toEqual({ value: undefined, done: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
