/**
 * `KeyUnwrapper` on AWS KMS: `Decrypt` with an asymmetric RSA `ENCRYPT_DECRYPT` key, so the private key never
 * leaves KMS. The client is injected (built once per container by the handler).
 *
 * How KMS failures are classified (DESIGN.md §5), and why:
 * - `InvalidCiphertextException`, `IncorrectKeyException` → PermanentError BAD_DATA: the bytes were not wrapped by
 *   this key or were altered. Retrying cannot help; the object is quarantined with the reason.
 * - `ThrottlingException`, `KMSInternalException`, `DependencyTimeoutException`, `KeyUnavailableException`, any
 *   5xx / server fault, network errors and time-outs → TransientError: retried with backoff.
 * - `AccessDeniedException`, `NotFoundException`, `DisabledException`, `KMSInvalidStateException` →
 *   TransientError, deliberately not BAD_DATA and not ConfigError: the object is fine and the fix is on our side
 *   (a policy not yet propagated, a key disabled or pending deletion by mistake). Retrying keeps the object; if the
 *   fix takes longer, the message lands in the DLQ and is redriven once the key works — nothing is quarantined as
 *   bad data, and the batch's other objects still go through. The message says what to fix.
 * - `InvalidKeyUsageException`, `UnsupportedOperationException`, `InvalidArnException`, `InvalidGrantTokenException`,
 *   `ValidationException`, `DryRunOperationException` → ConfigError: the configured key cannot ever do this (wrong
 *   key spec or usage, malformed ARN); no retry will help, so the handler should fail loudly.
 * - Anything unrecognised → TransientError, for the same reason as access errors: when in doubt, keep the object.
 */
import { DecryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { KeyUnwrapper, UnwrapAlgorithm } from '../envelope/ports';
import { badData, ConfigError, type PermanentError, TransientError } from '../shared/errors';

const BAD_DATA = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);
const RETRY = new Set([
  'ThrottlingException',
  'ThrottledException',
  'RequestLimitExceeded',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const KEY_NOT_USABLE = new Set([
  'AccessDeniedException',
  'NotFoundException',
  'DisabledException',
  'KMSInvalidStateException',
]);
const CONFIG = new Set([
  'InvalidKeyUsageException',
  'UnsupportedOperationException',
  'InvalidArnException',
  'InvalidGrantTokenException',
  'ValidationException',
  'DryRunOperationException',
]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** Classifies an error thrown by `KMSClient.send(new DecryptCommand(…))`; see the module comment. */
export function classifyKmsError(err: unknown, keyArn: string): PermanentError | TransientError | ConfigError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as AwsErrorShape;
  const name = e.name ?? 'Error';
  const what = `KMS Decrypt with ${keyArn}: ${name}${e.message ? `: ${e.message}` : ''}`;
  const options = { cause: err };
  if (BAD_DATA.has(name)) return badData(`wrapped key rejected by ${what}`, err);
  if (CONFIG.has(name)) return new ConfigError(`${what} (the configured key cannot be used this way)`, options);
  if (KEY_NOT_USABLE.has(name)) {
    return new TransientError(`${what} (check the key policy, the role's permissions and the key state)`, options);
  }
  const status = e.$metadata?.httpStatusCode;
  if (RETRY.has(name) || e.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new TransientError(what, options);
  }
  if (e.code && NETWORK_CODES.has(e.code)) return new TransientError(what, options);
  return new TransientError(`${what} (unrecognised; retried rather than quarantined)`, options);
}

export interface KmsKeyUnwrapperOptions {
  /** Grant tokens passed with every call (for access granted through a grant not yet eventually consistent). */
  readonly grantTokens?: readonly string[];
}

export class KmsKeyUnwrapper implements KeyUnwrapper {
  constructor(
    private readonly kms: KMSClient,
    private readonly options: KmsKeyUnwrapperOptions = {},
  ) {}

  async unwrap(keyArn: string, algorithm: UnwrapAlgorithm, ciphertext: Uint8Array): Promise<Buffer> {
    let out: { KeyId?: string | undefined; Plaintext?: Uint8Array | undefined };
    try {
      out = await this.kms.send(
        new DecryptCommand({
          KeyId: keyArn,
          CiphertextBlob: ciphertext,
          EncryptionAlgorithm: algorithm,
          ...(this.options.grantTokens?.length ? { GrantTokens: [...this.options.grantTokens] } : {}),
        }),
      );
    } catch (err) {
      throw classifyKmsError(err, keyArn);
    }
    // The spec requires the answering key to be the one asked for; KMS reports it as a key ARN.
    if (out.KeyId !== keyArn) {
      throw new ConfigError(`KMS Decrypt answered for key ${out.KeyId ?? '(none)'}, not ${keyArn}`);
    }
    if (!out.Plaintext) throw new TransientError(`KMS Decrypt with ${keyArn} returned no plaintext`);
    return Buffer.from(out.Plaintext);
  }
}
