/**
 * AWS KMS key ARNs as the Encryption SDK specification reads them (framework/aws-kms/aws-kms-key-arn.md and
 * aws-kms-mrk-match-for-decrypt.md): `arn:<partition>:kms:<region>:<account>:key/<key-id>`.
 */

export interface KmsKeyArn {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
  readonly keyId: string;
}

/** The parts of a KMS key ARN, or undefined when `value` is not one (aliases and bare key ids are not). */
export function parseKmsKeyArn(value: string): KmsKeyArn | undefined {
  const parts = value.split(':');
  if (parts.length < 6) return undefined;
  const [arn, partition, service, region, account] = parts;
  // The resource may itself contain ':' in general ARNs; for KMS it is `key/<id>`, so rejoin defensively.
  const resource = parts.slice(5).join(':');
  if (arn !== 'arn' || !partition || service !== 'kms' || !region || !account) return undefined;
  const slash = resource.indexOf('/');
  if (slash < 0 || resource.slice(0, slash) !== 'key') return undefined;
  const keyId = resource.slice(slash + 1);
  if (!keyId) return undefined;
  return { partition, region, account, keyId };
}

export function isMultiRegionKey(arn: KmsKeyArn): boolean {
  return arn.keyId.startsWith('mrk-');
}

/**
 * "AWS KMS MRK Match for Decrypt": identical identifiers match; two multi-Region keys match when everything but
 * the region is equal (a replica of the same key); anything else does not.
 */
export function mrkMatchForDecrypt(configured: string, candidate: string): boolean {
  if (configured === candidate) return true;
  const a = parseKmsKeyArn(configured);
  const b = parseKmsKeyArn(candidate);
  if (!a || !b || !isMultiRegionKey(a) || !isMultiRegionKey(b)) return false;
  return a.partition === b.partition && a.account === b.account && a.keyId === b.keyId;
}
