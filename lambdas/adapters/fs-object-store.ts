/**
 * `ObjectStore` on a local folder, for the CLI and for unit tests: bucket `b`, key `k` is the file `<root>/b/k`.
 * Create-only like the pipeline's buckets: an object is written to a temporary file, flushed, and published with
 * `link()`, which fails if the name exists — atomic and exclusive across processes on every local file system, so
 * a reader never sees half an object and of two writers of one key exactly one wins.
 *
 * User metadata (`x-amz-meta-*` on S3) is kept beside the object in `<root>/.meta/b/k.json`, written before the
 * object is published, so that an object is never visible without it. Objects are not versioned: the only version
 * is `null`, as S3 reports for unversioned buckets, and any other version id is not found.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, type Dirent } from 'node:fs';
import { link, mkdir, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigError, PermanentError } from '../shared/errors';
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

/** Bucket names as S3 allows them (no `/`, no `..`). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const TMP = '.tmp';
const META = '.meta';

export interface FsPutOptions extends PutOptions {
  /** User metadata stored with the object (as `x-amz-meta-*` on S3), returned by `get` and `head`. */
  readonly metadata?: Readonly<Record<string, string>>;
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** A key as a relative path: refused when it could leave the bucket or name a folder. */
function keyPath(key: string): string[] {
  const parts = key.split('/');
  if (key.length === 0 || Buffer.byteLength(key) > 1024 || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new PermanentError('ERROR', `key ${JSON.stringify(key.slice(0, 200))} cannot be stored in a folder`);
  }
  if (key.includes('\0') || key.includes('\\')) throw new PermanentError('ERROR', 'key holds NUL or a backslash');
  return parts;
}

export class FsObjectStore implements ObjectStore {
  constructor(readonly root: string) {}

  private bucketDir(bucket: string): string {
    if (!BUCKET.test(bucket)) throw new ConfigError(`invalid bucket name ${JSON.stringify(bucket)}`);
    return join(this.root, bucket);
  }

  /** The file of an object (whether or not it exists). */
  path(bucket: string, key: string): string {
    return join(this.bucketDir(bucket), ...keyPath(key));
  }

  private metaPath(bucket: string, key: string): string {
    this.bucketDir(bucket);
    return `${join(this.root, META, bucket, ...keyPath(key))}.json`;
  }

  private async info(bucket: string, key: string, versionId: string | undefined): Promise<ObjectInfo | undefined> {
    if (versionId !== undefined && versionId !== 'null') return undefined;
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.path(bucket, key));
    } catch (err) {
      if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return undefined;
      throw err;
    }
    if (!st.isFile()) return undefined;
    let metadata: Record<string, string> | undefined;
    try {
      metadata = JSON.parse(await readFile(this.metaPath(bucket, key), 'utf8')) as Record<string, string>;
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    return {
      key,
      size: st.size,
      // Not S3's MD5: a stable token of this file's identity, enough for the callers' equality checks.
      etag: `${st.ino.toString(16)}-${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}`,
      lastModified: st.mtime,
      ...(metadata && Object.keys(metadata).length > 0 ? { metadata } : {}),
    };
  }

  async get(bucket: string, key: string, options: GetOptions = {}): Promise<ObjectBody> {
    const info = await this.info(bucket, key, options.versionId);
    if (!info) throw new NoSuchObjectError(bucket, key, options.versionId);
    const body = createReadStream(this.path(bucket, key), {
      highWaterMark: 64 * 1024,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    return { ...info, body };
  }

  head(bucket: string, key: string, options: Omit<GetOptions, 'signal'> = {}): Promise<ObjectInfo | undefined> {
    return this.info(bucket, key, options.versionId);
  }

  async putIfAbsent(
    bucket: string,
    key: string,
    body: Uint8Array | Readable,
    options: FsPutOptions = {},
  ): Promise<PutResult> {
    const target = this.path(bucket, key);
    const tmpDir = join(this.root, TMP);
    await mkdir(tmpDir, { recursive: true });
    const tmp = join(tmpDir, randomUUID());
    try {
      const source = body instanceof Readable ? body : Readable.from([body]);
      await pipeline(
        source,
        createWriteStream(tmp, { flags: 'wx', mode: 0o644 }),
        ...(options.signal ? [{ signal: options.signal }] : []),
      );
      const fh = await open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (options.contentLength !== undefined && (await stat(tmp)).size !== options.contentLength) {
        throw new PermanentError('ERROR', `body of ${key} is not ${options.contentLength} bytes long`);
      }
      if ((await this.info(bucket, key, undefined)) !== undefined) return 'exists';
      if (options.metadata && Object.keys(options.metadata).length > 0) {
        const meta = this.metaPath(bucket, key);
        await mkdir(dirname(meta), { recursive: true });
        // Written only by the writer about to publish; a loser of the race below may overwrite it with its own
        // (the pipeline never writes one key with two different metadata).
        await writeFile(meta, JSON.stringify(options.metadata), { mode: 0o644 });
      }
      await mkdir(dirname(target), { recursive: true });
      try {
        await link(tmp, target);
        return 'created';
      } catch (err) {
        if (isErrno(err, 'EEXIST')) return 'exists';
        if (isErrno(err, 'EPERM') || isErrno(err, 'ENOTSUP') || isErrno(err, 'EOPNOTSUPP')) {
          throw new ConfigError(`the object folder ${this.root} must be on a file system with hard links`);
        }
        throw err;
      }
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async *list(bucket: string, prefix: string): AsyncIterable<ListedObject> {
    const dir = this.bucketDir(bucket);
    const keys: string[] = [];
    const walk = async (d: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch (err) {
        // No such folder, or an object where the prefix names a folder: nothing is under it.
        if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return;
        throw err;
      }
      for (const e of entries) {
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile()) keys.push(relative(dir, p).split(sep).join('/'));
      }
    };
    // Only the folder the prefix's complete segments name can hold its keys: walking from there keeps a listing of
    // one day's partition as cheap as on S3. A prefix whose folders could not be keys (`..`, empty) walks the bucket.
    const folders = prefix.split('/').slice(0, -1);
    const usable = folders.every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\\') && !p.includes('\0'));
    await walk(usable ? join(dir, ...folders) : dir);
    // S3 lists in UTF-8 binary order; for the ASCII keys of the pipeline that is plain string order.
    keys.sort();
    for (const key of keys) {
      if (!key.startsWith(prefix)) continue;
      const info = await this.info(bucket, key, undefined);
      if (info) yield { key, size: info.size, etag: info.etag, lastModified: info.lastModified };
    }
  }

  async delete(bucket: string, key: string, options: { readonly versionId?: string } = {}): Promise<void> {
    if (options.versionId !== undefined && options.versionId !== 'null') return;
    await rm(this.path(bucket, key), { force: true });
    await rm(this.metaPath(bucket, key), { force: true });
  }
}
