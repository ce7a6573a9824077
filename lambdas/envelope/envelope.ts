/**
 * The one entry point the processing pipeline calls to get plaintext out of an uploaded object, whatever its
 * envelope (DESIGN.md §3.4), and the sealing counterparts shippers and tests use.
 *
 * THE CONTRACT — plaintext is untrusted until the stream ends.
 * The plaintext streams out as it is decrypted so that memory does not grow with the file. Authentication, though,
 * is only complete at the end: an ESDK message is authenticated frame by frame, and a tampered, reordered or
 * missing later frame (or bytes appended after the last one) is found only when the stream gets there; a cybexp
 * blob has a single EAX tag over the whole ciphertext, checked after the last byte. So a consumer may parse and
 * stage as it reads, but must make nothing visible — no Parquet file committed, no ledger outcome written, no
 * rename — until the plaintext stream has emitted 'end'. If it emits 'error' instead, everything derived from it
 * must be discarded. `readEnvelope` enforces this for a consumer function; files.ts does it for files (temporary
 * file beside the target, renamed only on success).
 *
 * Errors: anything wrong with the object — malformed, altered, truncated, extended, wrong key, key not allowed,
 * encryption context not the one the object key implies, bad gzip — is a `PermanentError` with outcome BAD_DATA
 * and a reason. Key-service trouble surfaces as the port classified it (TransientError / ConfigError), and errors
 * of the source stream itself (e.g. an S3 read reset) are passed through untouched for the caller to classify.
 */
import type { KeyObject } from 'node:crypto';
import { type Duplex, pipeline, Readable, Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { types } from 'node:util';
import { createGunzip, createGzip } from 'node:zlib';
import { badData, ConfigError, PermanentError, TransientError } from '../shared/errors';
import type { Envelope } from '../shared/s3-keys';
import { CYBEXP_DEFAULT_MODULUS_BYTES, cybexpDecryptStream } from './cybexp';
import { ESDK_FRAME_LENGTH, esdkDecryptStages, esdkEncryptStream } from './esdk';
import type { EncryptionContext, KeyUnwrapper } from './ports';

export type { Envelope } from '../shared/s3-keys';

export interface OpenEnvelopeOptions {
  /** Unwraps data keys (KMS on AWS, a PEM key locally). Required for `esdk` and `cybexp`. */
  readonly unwrapper?: KeyUnwrapper;
  /** Key ARNs this deployment accepts; an object whose data key names another key is BAD_DATA. */
  readonly allowedKeyArns?: readonly string[];
  /**
   * For `esdk`: pairs the encryption context must hold, taken from the object key (`tenant`, `typetag`). Required
   * for `esdk` so that no caller forgets it; `{}` accepts any context. Ignored by `cybexp` and `none`, which carry
   * no context (whether a tenant may use them is the tenant's envelope policy).
   */
  readonly expectedContext?: EncryptionContext;
  /** The plaintext inside the envelope is gzip; it is decompressed after decryption. */
  readonly gzip?: boolean;
  /** For `cybexp`: RSA modulus length in bytes of the allowed keys. @default 512 (RSA-4096) */
  readonly rsaModulusBytes?: number;
  /** For `esdk`: the largest frame accepted (a frame is held in memory until its tag is checked). @default 1 MiB */
  readonly maxFrameLength?: number;
}

function requireKeys(kind: Envelope, options: OpenEnvelopeOptions): { unwrapper: KeyUnwrapper; arns: string[] } {
  if (!options.unwrapper) throw new ConfigError(`${kind} envelopes need a key unwrapper`);
  const arns = [...(options.allowedKeyArns ?? [])];
  if (arns.length === 0) throw new ConfigError(`${kind} envelopes need at least one allowed key ARN`);
  return { unwrapper: options.unwrapper, arns };
}

/** Read size the decrypting stages are fed with (see `Coalesce`). */
const COALESCE_BYTES = 1024 * 1024;

/**
 * Gathers small chunks into ~1 MiB ones. Object stores and sockets deliver 16–64 KiB chunks, and the SDK's
 * decrypt stream pays a scheduler turn per chunk: fed whole frames it runs about twice as fast. Costs one copy
 * and at most one chunk of memory.
 */
class Coalesce extends Transform {
  private held: Buffer[] = [];
  private heldBytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.heldBytes === 0 && chunk.length >= COALESCE_BYTES) {
      callback(null, chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    if (this.heldBytes < COALESCE_BYTES) {
      callback();
      return;
    }
    callback(null, this.release());
  }

  override _flush(callback: TransformCallback): void {
    callback(null, this.heldBytes > 0 ? this.release() : undefined);
  }

  private release(): Buffer {
    const out = Buffer.concat(this.held, this.heldBytes);
    this.held = [];
    this.heldBytes = 0;
    return out;
  }
}

function decryptStages(kind: Envelope, options: OpenEnvelopeOptions): Duplex[] {
  switch (kind) {
    case 'none':
      return [];
    case 'cybexp': {
      const { unwrapper, arns } = requireKeys(kind, options);
      return [
        new Coalesce(),
        cybexpDecryptStream({
          unwrapper,
          keyArns: arns,
          modulusBytes: options.rsaModulusBytes ?? CYBEXP_DEFAULT_MODULUS_BYTES,
        }),
      ];
    }
    case 'esdk': {
      const { unwrapper, arns } = requireKeys(kind, options);
      if (!options.expectedContext) {
        throw new ConfigError('esdk envelopes need an expected encryption context (pass {} to accept any)');
      }
      return [
        new Coalesce(),
        ...esdkDecryptStages({
          unwrapper,
          allowedKeyArns: arns,
          expectedContext: options.expectedContext,
          maxFrameLength: options.maxFrameLength ?? ESDK_FRAME_LENGTH,
        }),
      ];
    }
    default:
      throw new ConfigError(`unknown envelope ${JSON.stringify(kind)}`);
  }
}

const SDK_REASONS: Readonly<Record<string, string>> = {
  'Unsupported state or unable to authenticate data':
    'authentication failed: the header or a frame was altered, or the data key does not belong to this message',
  'Incomplete message': 'truncated message: the final frame is missing',
  'Incomplete Header': 'truncated message: the header is incomplete',
};

/** Maps whatever a stage threw to the pipeline's error classes (see the module comment). */
function classify(err: unknown, kind: Envelope, sourceError: unknown): Error {
  if (err instanceof PermanentError || err instanceof TransientError || err instanceof ConfigError) return err;
  // isNativeError also recognises errors from another realm (Node internals seen from a vm context, as in jest).
  const error = err instanceof Error || types.isNativeError(err) ? (err as Error) : new Error(String(err));
  if (sourceError !== undefined && err === sourceError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('Z_')) return badData(`gzip: ${error.message}`, error);
  return badData(`${kind}: ${SDK_REASONS[error.message] ?? error.message}`, error);
}

/**
 * Chains `streams` and returns the output of the last one, which ends only if every stage succeeded. Errors are
 * caught as they happen, not when the output is first read: a stage can fail before anyone reads (e.g. the source
 * file is missing), and the SDK's streams (readable-stream, duplexify) do not always carry an earlier error into a
 * later async iteration — without this, such a failure could read as an empty, successful output.
 */
function guardedPipeline(
  streams: readonly Duplex[] | readonly (Readable | Duplex)[],
  mapError: (err: unknown) => Error,
) {
  let failure: unknown;
  let settle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const tail = pipeline([...streams], (err) => {
    if (err) failure ??= err;
    settle();
  }) as unknown as Readable;
  tail.on('error', (err) => {
    failure ??= err;
  });
  async function* guarded(): AsyncGenerator<Buffer> {
    try {
      if (failure === undefined) for await (const chunk of tail) yield chunk as Buffer;
      await settled;
    } catch (err) {
      failure ??= err;
    }
    if (failure !== undefined) throw mapError(failure);
  }
  const out = Readable.from(guarded(), { objectMode: false });
  // A consumer that gives up before reading never starts the generator, so release the chain explicitly.
  out.once('close', () => {
    if (!tail.destroyed) tail.destroy();
  });
  return out;
}

/**
 * Plaintext of `source` (the stored object's bytes). Memory stays bounded by one frame (esdk) or one chunk
 * (cybexp, none) whatever the file size. Configuration mistakes throw synchronously (ConfigError); everything
 * else arrives as the returned stream's 'error'. Read the module comment: the output is untrusted until 'end'.
 */
export function openEnvelope(kind: Envelope, source: Readable, options: OpenEnvelopeOptions): Readable {
  const stages = decryptStages(kind, options);
  if (options.gzip) stages.push(createGunzip());
  if (stages.length === 0) return source;
  let sourceError: unknown;
  source.once('error', (err) => {
    sourceError = err;
  });
  return guardedPipeline([source, ...stages], (err) => classify(err, kind, sourceError));
}

/**
 * Runs `consume` over the plaintext and returns its result only if the whole envelope authenticated. Whatever
 * `consume` did not read is read and discarded, so that the tag at the end is still checked. If decryption fails,
 * the envelope's error is thrown even when `consume` itself succeeded — its result must not be used.
 * `consume` must not destroy the stream.
 */
export async function readEnvelope<T>(
  kind: Envelope,
  source: Readable,
  options: OpenEnvelopeOptions,
  consume: (plaintext: Readable) => Promise<T>,
): Promise<T> {
  const plaintext = openEnvelope(kind, source, options);
  let failure: unknown;
  plaintext.on('error', (err) => {
    failure ??= err;
  });
  let result: T;
  try {
    result = await consume(plaintext);
  } catch (err) {
    plaintext.destroy();
    throw failure ?? err;
  }
  try {
    plaintext.resume();
    await finished(plaintext);
  } catch (err) {
    throw failure ?? err;
  }
  if (failure !== undefined) throw failure;
  return result;
}

export interface SealEnvelopeOptions {
  /** KMS key ARN (or local key id) written into the message. */
  readonly keyArn: string;
  /** The key's public half (PEM or KeyObject). */
  readonly publicKey: string | KeyObject;
  /** Encryption context; the pipeline expects `{ tenant, typetag }`. */
  readonly context: EncryptionContext;
  /** Gzip the plaintext before sealing. */
  readonly gzip?: boolean;
  /** @default 1 MiB */
  readonly frameLength?: number;
}

/**
 * Seals a plaintext stream as `esdk` (or passes it through for `none`), optionally gzipped first. `cybexp` puts
 * its tag before the ciphertext and so cannot be a pure stream: see `CybexpSealer`, `sealCybexp` and files.ts.
 */
export function sealEnvelope(kind: 'esdk' | 'none', source: Readable, options: SealEnvelopeOptions): Readable {
  const stages: Duplex[] = [];
  if (options.gzip) stages.push(createGzip());
  if (kind === 'esdk') {
    stages.push(
      esdkEncryptStream({
        keyArn: options.keyArn,
        publicKey: options.publicKey,
        context: options.context,
        frameLength: options.frameLength ?? ESDK_FRAME_LENGTH,
      }),
    );
  }
  if (stages.length === 0) return source;
  return guardedPipeline([source, ...stages], (err) =>
    err instanceof Error || types.isNativeError(err) ? (err as Error) : new Error(String(err)),
  );
}
