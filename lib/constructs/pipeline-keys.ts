import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type { Construct } from 'constructs';

/**
 * Key management actions, without any use of the key (no Encrypt/Decrypt/GenerateDataKey, no CreateGrant).
 * Granted to the account so that IAM policies decide who administers the key; without it the key policy would
 * lock out CloudFormation's own updates (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
 */
const KEY_ADMINISTRATION = [
  'kms:CreateAlias',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
];

function accountRoot(): iam.IPrincipal {
  return new iam.AccountRootPrincipal();
}

function administration(): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'KeyAdministrationThroughIam',
    principals: [accountRoot()],
    actions: KEY_ADMINISTRATION,
    resources: ['*'],
  });
}

/** Properties of a {@link DataKey}. */
export interface DataKeyProps {
  /** Shown in the KMS console. */
  readonly description: string;
  /**
   * Waiting period before a deleted key is destroyed.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;
}

/**
 * The symmetric key behind SSE-KMS of the buckets, the DynamoDB tables and the pipeline bus. Rotates yearly.
 *
 * Its key policy lets principals of this account use it only through S3 and DynamoDB (`kms:ViaService`) and only
 * as far as their IAM policy allows: a leaked role cannot call `kms:Decrypt` on the key directly to read data it
 * fetched some other way. Services that encrypt on their own behalf (EventBridge) get statements scoped to the
 * resource they serve.
 */
export class DataKey extends kms.Key {
  constructor(scope: Construct, id: string, props: DataKeyProps) {
    const stack = Stack.of(scope);
    const viaServices = ['s3', 'dynamodb'].map((service) => `${service}.${stack.region}.amazonaws.com`);
    super(scope, id, {
      description: props.description,
      enableKeyRotation: true,
      pendingWindow: props.pendingWindow ?? Duration.days(30),
      policy: new iam.PolicyDocument({
        statements: [
          administration(),
          new iam.PolicyStatement({
            sid: 'UseThroughS3AndDynamoDb',
            principals: [accountRoot()],
            actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:DescribeKey'],
            resources: ['*'],
            conditions: {
              StringEquals: { 'kms:CallerAccount': stack.account, 'kms:ViaService': viaServices },
            },
          }),
          // DynamoDB creates a grant per table so that it can use the key between requests.
          // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.usagenotes.html
          new iam.PolicyStatement({
            sid: 'DynamoDbTableGrants',
            principals: [accountRoot()],
            actions: ['kms:CreateGrant'],
            resources: ['*'],
            conditions: {
              StringEquals: {
                'kms:CallerAccount': stack.account,
                'kms:ViaService': `dynamodb.${stack.region}.amazonaws.com`,
              },
              Bool: { 'kms:GrantIsForAWSResource': 'true' },
            },
          }),
          // DynamoDB reads the key's metadata and its own grants directly, as the service.
          // https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html
          new iam.PolicyStatement({
            sid: 'DynamoDbKeyMetadata',
            principals: [new iam.ServicePrincipal('dynamodb.amazonaws.com')],
            actions: ['kms:Describe*', 'kms:Get*', 'kms:List*'],
            resources: ['*'],
          }),
        ],
      }),
    });
  }

  /**
   * Lets EventBridge encrypt the archive of `busArn` with this key (the archive's encryption context is the bus ARN).
   * https://docs.aws.amazon.com/eventbridge/latest/userguide/encryption-archives.html
   */
  public allowEventArchive(busArn: string): void {
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeArchiveDescribeKey',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:DescribeKey'],
        resources: ['*'],
      }),
    );
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeArchiveEncryption',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:ReEncrypt*'],
        resources: ['*'],
        conditions: {
          // The bus ARN names this account and region, so the context alone pins the key to this archive's bus.
          StringEquals: { 'kms:EncryptionContext:aws:events:event-bus:arn': busArn },
        },
      }),
    );
  }
}

/**
 * The encryption algorithms the envelope formats use to unwrap a data key: `esdk` (the AWS KMS RSA keyring) uses
 * OAEP with SHA-256, `cybexp` uses OAEP with SHA-1 (DESIGN.md §3.4).
 */
export const ENVELOPE_ALGORITHMS = ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1'] as const;

/** Properties of an {@link EnvelopeKey}. */
export interface EnvelopeKeyProps {
  /** Shown in the KMS console. */
  readonly description: string;
  /**
   * Waiting period before a deleted key is destroyed.
   *
   * @default Duration.days(30)
   */
  readonly pendingWindow?: Duration;
}

/**
 * The asymmetric RSA_4096 ENCRYPT_DECRYPT key whose public half shippers use to wrap data keys. The private half
 * never leaves KMS; the process function unwraps with `kms:Decrypt`.
 *
 * The key policy allows nothing but administration, reading the public key, and `kms:Decrypt` restricted to the two
 * envelope algorithms; `kms:Encrypt` and `kms:ReEncrypt*` are never needed (shippers encrypt locally with the public
 * key) and are not granted. Who may decrypt is still decided by IAM ({@link EnvelopeKey.grantUnwrap}).
 */
export class EnvelopeKey extends kms.Key {
  constructor(scope: Construct, id: string, props: EnvelopeKeyProps) {
    super(scope, id, {
      description: props.description,
      keySpec: kms.KeySpec.RSA_4096,
      keyUsage: kms.KeyUsage.ENCRYPT_DECRYPT,
      // KMS does not rotate asymmetric keys; a new key (new ARN on the allow-list) replaces this one instead.
      enableKeyRotation: false,
      pendingWindow: props.pendingWindow ?? Duration.days(30),
      policy: new iam.PolicyDocument({
        statements: [
          administration(),
          new iam.PolicyStatement({
            sid: 'ReadPublicKeyThroughIam',
            principals: [accountRoot()],
            actions: ['kms:GetPublicKey', 'kms:DescribeKey'],
            resources: ['*'],
          }),
          new iam.PolicyStatement({
            sid: 'UnwrapDataKeysThroughIam',
            principals: [accountRoot()],
            actions: ['kms:Decrypt'],
            resources: ['*'],
            conditions: { StringEquals: { 'kms:EncryptionAlgorithm': [...ENVELOPE_ALGORITHMS] } },
          }),
        ],
      }),
    });
  }

  /** Lets `grantee` unwrap envelope data keys (`kms:Decrypt` with an envelope algorithm). */
  public grantUnwrap(grantee: iam.IGrantable): iam.Grant {
    return this.grantDecrypt(grantee);
  }

  /** Lets `grantee` read the public key, e.g. to serve `GET /v1/public-key`. */
  public grantPublicKey(grantee: iam.IGrantable): iam.Grant {
    return this.grant(grantee, 'kms:GetPublicKey', 'kms:DescribeKey');
  }
}
