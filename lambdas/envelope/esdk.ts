/**
 * The `esdk` envelope: an AWS Encryption SDK message (format version 2) with algorithm suite 0x0478
 * (AES-256-GCM, HKDF-SHA512, key commitment, no signature), framed, with the data key wrapped by the AWS KMS RSA
 * keyring (kms-rsa-keyring.ts). The crypto is the Encryption SDK for JavaScript's; this module pins its
 * configuration, checks the encryption context against what the object key says, and guards the framing.
 */
import type { KeyObject } from 'node:crypto';
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import {
  AlgorithmSuiteIdentifier,
  buildClient,
  CommitmentPolicy,
  NodeDefaultCryptographicMaterialsManager,
  type NodeMaterialsManager,
} from '@aws-crypto/client-node';
import { badData } from '../shared/errors';
import { KmsRsaKeyringNode } from './kms-rsa-keyring';
import type { EncryptionContext, KeyUnwrapper } from './ports';

/** ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY: committing, unsigned (the RSA keyring forbids signing). */
export const ESDK_SUITE_ID = AlgorithmSuiteIdentifier.ALG_AES256_GCM_IV12_TAG16_HKDF_SHA512_COMMIT_KEY;
/** Frame length shippers are asked to use; also the largest one accepted, since a frame is buffered whole. */
export const ESDK_FRAME_LENGTH = 1024 * 1024;
/** More EDKs than this is not a shipper we know of but a way to make us call KMS many times per file. */
export const ESDK_MAX_ENCRYPTED_DATA_KEYS = 8;
const MAX_HEADER_BYTES = 1024 * 1024;

const client = buildClient({
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: ESDK_MAX_ENCRYPTED_DATA_KEYS,
});

export interface EsdkSealOptions {
  readonly keyArn: string;
  /** PEM (SPKI) or KeyObject of the KMS key's public half. */
  readonly publicKey: string | KeyObject;
  /** Bound to the message; the pipeline expects `tenant` and `typetag`. */
  readonly context: EncryptionContext;
  /** @default ESDK_FRAME_LENGTH */
  readonly frameLength?: number;
}

/** A Duplex: plaintext in, ESDK message out. */
export function esdkEncryptStream(options: EsdkSealOptions): Duplex {
  const keyring = KmsRsaKeyringNode.forEncrypt({ keyArn: options.keyArn, publicKey: options.publicKey });
  return new RunToEnd(
    client.encryptStream(keyring, {
      suiteId: ESDK_SUITE_ID,
      encryptionContext: { ...options.context },
      frameLength: options.frameLength ?? ESDK_FRAME_LENGTH,
    }),
  );
}

/**
 * Shields the SDK's encrypt stream from being destroyed. Destroying it (as `pipeline` does to every stage when any
 * stage fails) makes an inner stream of the SDK emit 'Premature close' with no listener — an uncaught exception.
 * So when this wrapper is destroyed, the SDK stream is instead ended and drained: it finishes on what it has, and
 * its output is discarded.
 */
class RunToEnd extends Duplex {
  constructor(private readonly inner: Duplex) {
    super();
    inner.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.on('error', (err) => this.destroy(err));
  }

  override _read(): void {
    this.inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.inner.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.inner.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const inner = this.inner;
    inner.removeAllListeners('data');
    inner.on('error', () => {});
    inner.resume();
    if (!inner.writableEnded) inner.end();
    callback(error);
  }
}

export interface EsdkOpenOptions {
  readonly unwrapper: KeyUnwrapper;
  readonly allowedKeyArns: readonly string[];
  /** Pairs the message's encryption context must contain with exactly these values; other pairs are allowed. */
  readonly expectedContext: EncryptionContext;
  /** @default ESDK_FRAME_LENGTH */
  readonly maxFrameLength?: number;
}

/**
 * The decrypting stages, in pipeline order. Each frame's plaintext is released only after its GCM tag verified,
 * but a later frame can still fail (or be missing): the plaintext is trustworthy only once the last stage ended.
 */
export function esdkDecryptStages(options: EsdkOpenOptions): Duplex[] {
  const maxFrameLength = options.maxFrameLength ?? ESDK_FRAME_LENGTH;
  const keyring = KmsRsaKeyringNode.forDecrypt({
    unwrapper: options.unwrapper,
    allowedKeyArns: options.allowedKeyArns,
  });
  const cmm = new ExpectedContextCmm(new NodeDefaultCryptographicMaterialsManager(keyring), options.expectedContext);
  return [
    new EsdkFramingGuard(maxFrameLength),
    client.decryptUnsignedMessageStream(cmm, { maxBodySize: maxFrameLength }),
  ];
}

function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** Fails before any key is unwrapped when the message was not meant for this tenant and typetag. */
export function checkEncryptionContext(actual: EncryptionContext, expected: EncryptionContext): void {
  for (const [key, value] of Object.entries(expected)) {
    const got = Object.hasOwn(actual, key) ? actual[key] : undefined;
    if (got === undefined) {
      throw badData(`esdk: encryption context has no ${quote(key)} (expected ${quote(value)})`);
    }
    if (got !== value) {
      throw badData(`esdk: encryption context ${quote(key)} is ${quote(got)}, expected ${quote(value)}`);
    }
  }
}

/** Wraps the default CMM to check the context first, so a mismatched file costs no KMS call. */
class ExpectedContextCmm implements NodeMaterialsManager {
  constructor(
    private readonly inner: NodeMaterialsManager,
    private readonly expected: EncryptionContext,
  ) {}

  getEncryptionMaterials: NodeMaterialsManager['getEncryptionMaterials'] = (request) =>
    this.inner.getEncryptionMaterials(request);

  decryptMaterials: NodeMaterialsManager['decryptMaterials'] = async (request) => {
    checkEncryptionContext(request.encryptionContext, this.expected);
    return this.inner.decryptMaterials(request);
  };
}

type GuardState =
  | { kind: 'header' }
  | { kind: 'frame-start' }
  | { kind: 'final-header' }
  | { kind: 'skip'; remaining: number; next: 'frame-start' | 'done' }
  | { kind: 'done' };

const SEQUENCE_END = 0xffffffff;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SUITE_DATA_BYTES = 32;

/**
 * Walks the message's framing (without any crypto) in front of the SDK's decrypt stream, passing bytes through.
 *
 * Needed because the SDK's streaming decrypt, for unsigned suites, quietly accepts bytes after the final frame
 * (it collects them as a signature that is never checked), and it does not expose where the message ends. Also
 * rejects, with a precise reason and before any KMS call, messages in a format version, suite or content type we
 * do not accept, and frame lengths above the limit (a frame is buffered whole before its tag is checked).
 */
export class EsdkFramingGuard extends Transform {
  private state: GuardState = { kind: 'header' };
  private pending: Buffer = Buffer.alloc(0);
  private frameLength = 0;
  private frames = 0;
  private offset = 0;

  constructor(private readonly maxFrameLength: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.walk(chunk);
      this.offset += chunk.length;
      callback(null, chunk);
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (this.state.kind === 'done') {
      callback();
      return;
    }
    const where =
      this.state.kind === 'header'
        ? 'inside the header'
        : `before the final frame was complete (${this.frames} frame(s) begun)`;
    callback(badData(`esdk: truncated message: input ended ${where} (${this.offset} bytes)`));
  }

  private walk(chunk: Buffer): void {
    let data = chunk;
    while (data.length > 0) {
      const state = this.state;
      switch (state.kind) {
        case 'done':
          throw badData(
            `esdk: unexpected bytes after the final frame, from offset ${this.offset + chunk.length - data.length}`,
          );
        case 'skip': {
          const n = Math.min(state.remaining, data.length);
          state.remaining -= n;
          data = data.subarray(n);
          if (state.remaining === 0) this.state = { kind: state.next };
          break;
        }
        case 'header': {
          this.pending = Buffer.concat([this.pending, data]);
          data = Buffer.alloc(0);
          const parsed = this.parseHeader(this.pending);
          if (parsed === undefined) {
            if (this.pending.length > MAX_HEADER_BYTES) throw badData('esdk: message header is implausibly large');
            break;
          }
          data = this.pending.subarray(parsed);
          this.pending = Buffer.alloc(0);
          this.state = { kind: 'frame-start' };
          break;
        }
        case 'frame-start':
        case 'final-header': {
          const need = state.kind === 'frame-start' ? 4 : 4 + 4 + IV_BYTES + 4;
          const take = Math.min(need - this.pending.length, data.length);
          this.pending = Buffer.concat([this.pending, data.subarray(0, take)]);
          data = data.subarray(take);
          if (this.pending.length < need) break;
          const fields = this.pending;
          this.pending = Buffer.alloc(0);
          if (state.kind === 'frame-start') {
            if (fields.readUInt32BE(0) === SEQUENCE_END) {
              this.pending = fields;
              this.state = { kind: 'final-header' };
            } else {
              this.frames++;
              this.state = { kind: 'skip', remaining: IV_BYTES + this.frameLength + TAG_BYTES, next: 'frame-start' };
            }
          } else {
            const contentLength = fields.readUInt32BE(4 + 4 + IV_BYTES);
            if (contentLength > this.frameLength) {
              throw badData(`esdk: final frame claims ${contentLength} bytes, more than the frame length`);
            }
            this.frames++;
            this.state = { kind: 'skip', remaining: contentLength + TAG_BYTES, next: 'done' };
          }
          break;
        }
      }
    }
  }

  /** Length of the header (with its auth tag) once `buf` holds all of it; undefined while more is needed. */
  private parseHeader(buf: Buffer): number | undefined {
    let pos = 0;
    const need = (n: number) => pos + n <= buf.length;
    if (!need(1)) return undefined;
    const version = buf.readUInt8(0);
    if (version !== 2) {
      throw badData(`esdk: message format version ${version} is not accepted (committing suites use version 2)`);
    }
    if (!need(3)) return undefined;
    const suite = buf.readUInt16BE(1);
    if (suite !== ESDK_SUITE_ID) {
      throw badData(
        `esdk: algorithm suite 0x${suite.toString(16).padStart(4, '0')} is not accepted; ` +
          `shippers must use 0x${ESDK_SUITE_ID.toString(16).padStart(4, '0')} (AES-256-GCM, HKDF-SHA512, committing, unsigned)`,
      );
    }
    pos = 1 + 2 + 32;
    if (!need(2)) return undefined;
    pos += 2 + buf.readUInt16BE(pos);
    if (!need(2)) return undefined;
    const edkCount = buf.readUInt16BE(pos);
    pos += 2;
    for (let i = 0; i < edkCount * 3; i++) {
      if (!need(2)) return undefined;
      pos += 2 + buf.readUInt16BE(pos);
    }
    if (!need(1 + 4)) return undefined;
    const contentType = buf.readUInt8(pos);
    if (contentType !== 2) throw badData(`esdk: content type ${contentType} is not accepted (framed data is 2)`);
    const frameLength = buf.readUInt32BE(pos + 1);
    if (frameLength === 0 || frameLength > this.maxFrameLength) {
      throw badData(`esdk: frame length ${frameLength} is not accepted (1..${this.maxFrameLength})`);
    }
    this.frameLength = frameLength;
    pos += 1 + 4 + SUITE_DATA_BYTES + TAG_BYTES;
    return need(0) ? pos : undefined;
  }
}
