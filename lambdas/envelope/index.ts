/**
 * Envelopes (DESIGN.md §3.4; formats in docs/envelopes.md). The processing pipeline needs `openEnvelope` or
 * `readEnvelope` and a `KeyUnwrapper` (KmsKeyUnwrapper on AWS, LocalKeyUnwrapper locally, from lambdas/adapters).
 * Read the contract in envelope.ts: plaintext is untrusted until its stream has ended.
 */
export { CybexpSealer, sealCybexp } from './cybexp';
export {
  type Envelope,
  type OpenEnvelopeOptions,
  openEnvelope,
  readEnvelope,
  type SealEnvelopeOptions,
  sealEnvelope,
} from './envelope';
export { ESDK_FRAME_LENGTH, ESDK_SUITE_ID } from './esdk';
export { openEnvelopeToFile, produceThenCopy, sealEnvelopeToFile, writeAtomically } from './files';
export type { EncryptionContext, KeyUnwrapper, UnwrapAlgorithm } from './ports';
