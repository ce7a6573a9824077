import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { NoSuchObjectError } from '../../../lambdas/adapters/object-store';
import { ConfigError, PermanentError } from '../../../lambdas/shared/errors';
import { listKeys, readObject } from './outputs';

let dir: string;
let store: FsObjectStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fs-store-'));
  store = new FsObjectStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const KEY = 'tahoe/tahoe_raw/tenant=acme/dt=2026-11-22/abc-00000.parquet';

describe('FsObjectStore', () => {
  test('stores an object under bucket/key and streams it back with its size', async () => {
    expect(await store.putIfAbsent('curated', KEY, Buffer.from('parquet bytes'))).toBe('created');
    const o = await store.get('curated', KEY);
    expect(o.size).toBe(13);
    expect(Buffer.concat(await o.body.toArray()).toString()).toBe('parquet bytes');
    expect(store.path('curated', KEY)).toBe(join(dir, 'curated', ...KEY.split('/')));
  });

  test('is create-only: a second write reports exists and changes nothing', async () => {
    expect(await store.putIfAbsent('curated', KEY, Readable.from([Buffer.from('first')]))).toBe('created');
    expect(await store.putIfAbsent('curated', KEY, Buffer.from('second'))).toBe('exists');
    expect((await readObject(store, 'curated', KEY)).toString()).toBe('first');
  });

  test('of concurrent writers of one key exactly one wins, and no temporary file is left', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => store.putIfAbsent('curated', KEY, Buffer.from(`writer ${i}`))),
    );
    expect(results.filter((r) => r === 'created')).toHaveLength(1);
    expect(readdirSync(join(dir, '.tmp'))).toEqual([]);
    expect((await readObject(store, 'curated', KEY)).toString()).toMatch(/^writer \d+$/);
  });

  test('keeps user metadata with the object', async () => {
    await store.putIfAbsent('raw', 'raw/x.raw', Buffer.from('x'), { metadata: { timezone: 'Asia/Tokyo' } });
    expect((await store.get('raw', 'raw/x.raw')).metadata).toEqual({ timezone: 'Asia/Tokyo' });
    expect((await store.head('raw', 'raw/x.raw'))?.metadata).toEqual({ timezone: 'Asia/Tokyo' });
    await store.putIfAbsent('raw', 'raw/y.raw', Buffer.from('y'));
    expect((await store.head('raw', 'raw/y.raw'))?.metadata).toBeUndefined();
  });

  test('answers NoSuchObjectError for a missing object or a version other than null', async () => {
    await expect(store.get('curated', 'nope')).rejects.toBeInstanceOf(NoSuchObjectError);
    await store.putIfAbsent('curated', KEY, Buffer.from('x'));
    expect(await store.head('curated', KEY, { versionId: 'null' })).toBeDefined();
    expect(await store.head('curated', KEY, { versionId: 'v2' })).toBeUndefined();
    await expect(store.get('curated', KEY, { versionId: 'v2' })).rejects.toBeInstanceOf(NoSuchObjectError);
  });

  test('lists keys under a prefix in key order', async () => {
    for (const k of ['b/2', 'a/1', 'b/1', 'c']) await store.putIfAbsent('bucket', k, Buffer.from(k));
    expect(await listKeys(store, 'bucket')).toEqual(['a/1', 'b/1', 'b/2', 'c']);
    expect(await listKeys(store, 'bucket', 'b/')).toEqual(['b/1', 'b/2']);
    expect(await listKeys(store, 'empty')).toEqual([]);
  });

  test('lists a prefix of several folders and a partial name as S3 does, and nothing under an object', async () => {
    for (const k of ['t/x=a/d=1/k', 't/x=a/d=2/k', 't/x=ab/d=1/k', 't/x=a/d=10/k', 'u/k']) {
      await store.putIfAbsent('bucket', k, Buffer.from(k));
    }
    expect(await listKeys(store, 'bucket', 't/x=a/d=1/')).toEqual(['t/x=a/d=1/k']);
    expect(await listKeys(store, 'bucket', 't/x=a/d=1')).toEqual(['t/x=a/d=1/k', 't/x=a/d=10/k']);
    expect(await listKeys(store, 'bucket', 't/x=a')).toEqual([
      't/x=a/d=1/k',
      't/x=a/d=10/k',
      't/x=a/d=2/k',
      't/x=ab/d=1/k',
    ]);
    expect(await listKeys(store, 'bucket', 't/x=b/')).toEqual([]);
    expect(await listKeys(store, 'bucket', 'u/k/')).toEqual([]);
    // A prefix that names no folder a key could be in finds no key, and reads nothing outside the bucket.
    expect(await listKeys(store, 'bucket', '../bucket/t/')).toEqual([]);
  });

  test('deletes, and deleting a missing key succeeds', async () => {
    await store.putIfAbsent('bucket', 'k', Buffer.from('x'));
    await store.delete('bucket', 'k');
    await store.delete('bucket', 'k');
    expect(await store.head('bucket', 'k')).toBeUndefined();
  });

  test('refuses keys that could leave the bucket, and bad bucket names', async () => {
    for (const key of ['../escape', 'a/../../b', '', 'a//b', '/abs']) {
      await expect(store.putIfAbsent('bucket', key, Buffer.from('x'))).rejects.toBeInstanceOf(PermanentError);
    }
    await expect(store.putIfAbsent('../up', 'k', Buffer.from('x'))).rejects.toBeInstanceOf(ConfigError);
  });

  test('refuses a body whose length differs from the declared one', async () => {
    await expect(store.putIfAbsent('bucket', 'k', Buffer.from('four'), { contentLength: 5 })).rejects.toBeInstanceOf(
      PermanentError,
    );
    expect(await store.head('bucket', 'k')).toBeUndefined();
  });
});
