import { Duration, FeatureFlags, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as cxapi from 'aws-cdk-lib/cx-api';
import type { Construct } from 'constructs';

/** Where a bucket's S3 server access logs are delivered. */
export interface ServerAccessLogs {
  /** The log bucket: a SecureBucket created with `accessLogTarget: true`. */
  readonly bucket: s3.IBucket;
  /** Key prefix of this bucket's logs inside the log bucket; must end with `/`. */
  readonly prefix: string;
}

/** Object Lock default retention applied to every new object version. */
export interface ObjectLockSettings {
  /** COMPLIANCE: nobody, root included, can shorten it; GOVERNANCE: principals with a bypass permission can. */
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE';
  /** Retention period of each version, in days. */
  readonly days: number;
}

/**
 * Properties of a {@link SecureBucket}. Everything that weakens the bucket (public access, ACLs, plain HTTP, old TLS,
 * SSE-C) is not configurable.
 */
export interface SecureBucketProps {
  /**
   * Customer managed key for SSE-KMS. S3 Bucket Keys are always enabled with it, which cuts KMS requests (and cost)
   * by orders of magnitude (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html).
   * Required unless `accessLogTarget` is set.
   *
   * @default - none: only an access-log target may go without one, and it then uses SSE-S3
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * This bucket receives the server access logs of the other buckets. The logging service only delivers to a target
   * encrypted with SSE-S3, so such a bucket has no KMS key, and it does not log itself.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html
   *
   * @default false
   */
  readonly accessLogTarget?: boolean;

  /**
   * Where this bucket's server access logs go. Required unless `accessLogTarget` is set.
   *
   * @default - none (only valid for an access-log target)
   */
  readonly serverAccessLogs?: ServerAccessLogs;

  /**
   * Keep every version of every object.
   *
   * @default false (true when `objectLock` is set, which requires versioning)
   */
  readonly versioned?: boolean;

  /**
   * Object Lock default retention. Object Lock can only be turned on when the bucket is created.
   *
   * @default - no Object Lock
   */
  readonly objectLock?: ObjectLockSettings;

  /**
   * Make object writes create-only: deny `PutObject` and `CompleteMultipartUpload` requests that do not carry
   * `If-None-Match: *`, so an existing key can never be overwritten. This also makes `CopyObject` into the bucket
   * fail, as AWS documents. Multipart parts (`CreateMultipartUpload`, `UploadPart`) stay allowed because they do not
   * accept the header; the completion is what is checked.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
   *
   * @default false
   */
  readonly createOnly?: boolean;

  /**
   * Days after which current objects expire (age-off).
   *
   * @default - objects never expire
   */
  readonly expirationDays?: number;

  /**
   * Days a version is kept after it became noncurrent. Only used by versioned buckets.
   *
   * @default 30
   */
  readonly noncurrentVersionDays?: number;

  /**
   * Days after which parts of a multipart upload that was never completed are removed.
   *
   * @default 7
   */
  readonly incompleteUploadDays?: number;

  /**
   * Publish this bucket's object events to the account's default EventBridge bus.
   *
   * @default false
   */
  readonly eventBridgeEnabled?: boolean;

  /**
   * What happens to the bucket when it leaves the stack. Stage-wide policies are applied by an Aspect.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/** A bucket layering this project's secure defaults over `s3.Bucket`; see {@link SecureBucketProps}. */
export class SecureBucket extends s3.Bucket {
  /** Whether writes must carry `If-None-Match: *` (enforced by the bucket policy). */
  public readonly createOnly: boolean;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id, SecureBucket.bucketProps(scope, id, props));
    this.createOnly = props.createOnly ?? false;

    if (props.encryptionKey) this.denyForeignEncryption(props.encryptionKey);
    if (this.createOnly) this.denyOverwrites();
  }

  private static bucketProps(scope: Construct, id: string, props: SecureBucketProps): s3.BucketProps {
    const where = `${scope.node.path}/${id}`;
    const logTarget = props.accessLogTarget ?? false;
    if (logTarget && props.encryptionKey) {
      throw new Error(
        `${where}: an access-log target must use SSE-S3; server access logging cannot write with SSE-KMS`,
      );
    }
    if (logTarget && props.serverAccessLogs) {
      throw new Error(`${where}: an access-log target does not log itself`);
    }
    if (!logTarget && !props.encryptionKey) {
      throw new Error(`${where}: encryptionKey is required (only the access-log target may use SSE-S3)`);
    }
    if (!logTarget && !props.serverAccessLogs) {
      throw new Error(`${where}: serverAccessLogs is required (only the access-log target may go without)`);
    }
    // Without this flag CDK falls back to the legacy log-delivery ACL, which BUCKET_OWNER_ENFORCED forbids.
    if (props.serverAccessLogs && !FeatureFlags.of(scope).isEnabled(cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY)) {
      throw new Error(`${where}: enable the feature flag ${cxapi.S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY} (cdk.json)`);
    }
    if (props.serverAccessLogs && !/^[A-Za-z0-9][A-Za-z0-9_.-]*\/$/.test(props.serverAccessLogs.prefix)) {
      throw new Error(
        `${where}: serverAccessLogs.prefix ${JSON.stringify(props.serverAccessLogs.prefix)} must end with /`,
      );
    }
    for (const [name, value] of Object.entries({
      expirationDays: props.expirationDays,
      noncurrentVersionDays: props.noncurrentVersionDays,
      incompleteUploadDays: props.incompleteUploadDays,
      'objectLock.days': props.objectLock?.days,
    })) {
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
        throw new Error(`${where}: ${name} = ${value}: must be a positive integer`);
      }
    }

    const versioned = (props.versioned ?? false) || props.objectLock !== undefined;
    const lock = props.objectLock;
    return {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      publicReadAccess: false,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      // SSE-C objects are encrypted with keys we never see: refuse them outright.
      blockedEncryptionTypes: [s3.BlockedEncryptionType.SSE_C],
      ...(props.encryptionKey
        ? { encryption: s3.BucketEncryption.KMS, encryptionKey: props.encryptionKey, bucketKeyEnabled: true }
        : { encryption: s3.BucketEncryption.S3_MANAGED }),
      ...(props.serverAccessLogs
        ? {
            serverAccessLogsBucket: props.serverAccessLogs.bucket,
            serverAccessLogsPrefix: props.serverAccessLogs.prefix,
            // Date-partitioned keys let Athena prune log queries by day.
            targetObjectKeyFormat: s3.TargetObjectKeyFormat.partitionedPrefix(s3.PartitionDateSource.EVENT_TIME),
          }
        : {}),
      versioned,
      ...(lock
        ? {
            objectLockEnabled: true,
            objectLockDefaultRetention:
              lock.mode === 'COMPLIANCE'
                ? s3.ObjectLockRetention.compliance(Duration.days(lock.days))
                : s3.ObjectLockRetention.governance(Duration.days(lock.days)),
          }
        : {}),
      lifecycleRules: SecureBucket.lifecycleRules(versioned, props),
      eventBridgeEnabled: props.eventBridgeEnabled ?? false,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    };
  }

  private static lifecycleRules(versioned: boolean, props: SecureBucketProps): s3.LifecycleRule[] {
    const rules: s3.LifecycleRule[] = [
      {
        id: 'Retention',
        enabled: true,
        abortIncompleteMultipartUploadAfter: Duration.days(props.incompleteUploadDays ?? 7),
        ...(props.expirationDays !== undefined ? { expiration: Duration.days(props.expirationDays) } : {}),
        ...(versioned ? { noncurrentVersionExpiration: Duration.days(props.noncurrentVersionDays ?? 30) } : {}),
      },
    ];
    if (versioned) {
      // S3 rejects ExpiredObjectDeleteMarker next to an expiration in days, hence a rule of its own. Without it the
      // delete markers left behind by expiration would accumulate after their noncurrent versions are gone.
      rules.push({ id: 'RemoveExpiredDeleteMarkers', enabled: true, expiredObjectDeleteMarker: true });
    }
    return rules;
  }

  /**
   * Objects may only be written with the bucket's own key: a request naming SSE-S3, DSSE or another KMS key is
   * refused. Requests without encryption headers get the bucket default. Each statement tests that the header is
   * present (Null = false) because a negated operator on an absent key evaluates to true
   * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
   */
  private denyForeignEncryption(key: kms.IKey): void {
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyOtherEncryptionTypes',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.arnForObjects('*')],
        conditions: {
          Null: { 's3:x-amz-server-side-encryption': 'false' },
          StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
        },
      }),
    );
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyOtherKmsKeys',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.arnForObjects('*')],
        conditions: {
          Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
          StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': key.keyArn },
        },
      }),
    );
  }

  /**
   * `s3:if-none-match` is absent (Null = true) when the header is missing; `s3:ObjectCreationOperation` is true for
   * PutObject and CompleteMultipartUpload and false for the multipart calls that cannot carry the header.
   * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes-enforce.html
   */
  private denyOverwrites(): void {
    this.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyWritesWithoutIfNoneMatch',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.arnForObjects('*')],
        conditions: {
          Null: { 's3:if-none-match': 'true' },
          Bool: { 's3:ObjectCreationOperation': 'true' },
        },
      }),
    );
  }
}
