/**
 * The one port the envelope cores need: something that holds the private half of an RSA key and unwraps data keys
 * with it. On AWS that is KMS `Decrypt` (the private key never leaves KMS); locally, a PEM private key. Both live in
 * lambdas/adapters/.
 */

/** The RSA-OAEP paddings AWS KMS defines for RSA `ENCRYPT_DECRYPT` keys (both with MGF1 over the same hash). */
export type UnwrapAlgorithm = 'RSAES_OAEP_SHA_256' | 'RSAES_OAEP_SHA_1';

export interface KeyUnwrapper {
  /**
   * RSA-OAEP-decrypts `ciphertext` with the private key named by `keyArn`.
   *
   * Implementations classify failures (DESIGN.md §5): a ciphertext the key cannot decrypt is a `PermanentError`
   * with outcome BAD_DATA; throttling, time-outs and 5xx are `TransientError`; a key the deployment cannot use
   * is a `ConfigError` or `TransientError` (see each adapter).
   */
  unwrap(keyArn: string, algorithm: UnwrapAlgorithm, ciphertext: Uint8Array): Promise<Buffer>;
}

/** The ESDK encryption context: non-secret key/value pairs bound to the message. */
export type EncryptionContext = Readonly<Record<string, string>>;
