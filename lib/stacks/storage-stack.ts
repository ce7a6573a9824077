import { CfnOutput, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct, IConstruct } from 'constructs';
import type { Config } from '../config';
import { DataKey, EnvelopeKey } from '../constructs/pipeline-keys';
import { SecureBucket } from '../constructs/secure-bucket';

/**
 * Key schema of the ledger table: one item per raw object version (DESIGN.md §3.6).
 * `pk` = `<bucket>/<key>`, `sk` = the S3 version id.
 */
export const LEDGER_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Uploads of a tenant in arrival order (`received_at` is an ISO-8601 UTC timestamp). */
  byTenantReceivedAt: { indexName: 'byTenantReceivedAt', partitionKey: 'tenant', sortKey: 'received_at' },
  /** The "does this content exist for my tenant" query of `GET /v1/objects/{sha256}`. */
  bySha256: { indexName: 'bySha256', partitionKey: 'sha256', sortKey: 'tenant' },
} as const;

/**
 * Key schema of the tenant registry (DESIGN.md §3.1): the tenant item and its API keys share the partition
 * `tenant`; `sk` tells them apart. API keys are found by the SHA-256 of the presented key, never by the key itself.
 */
export const TENANTS_SCHEMA = {
  partitionKey: 'tenant',
  sortKey: 'sk',
  byKeyHash: { indexName: 'byKeyHash', partitionKey: 'key_hash' },
} as const;

/** Environment variables set on a function by the grant helper that gives it access to the resource. */
export const STORAGE_ENV = {
  rawBucket: 'RAW_BUCKET',
  curatedBucket: 'CURATED_BUCKET',
  quarantineBucket: 'QUARANTINE_BUCKET',
  proofsBucket: 'PROOFS_BUCKET',
  manifestsBucket: 'MANIFESTS_BUCKET',
  ledgerTable: 'LEDGER_TABLE',
  tenantsTable: 'TENANTS_TABLE',
  eventBus: 'EVENT_BUS_NAME',
  envelopeKeyArn: 'ENVELOPE_KEY_ARN',
} as const;

/** Key prefixes each bucket's writers use (DESIGN.md §3.3); grants are scoped to them. */
export const KEY_PREFIXES = {
  raw: 'raw/',
  curated: 'tahoe/',
  quarantine: 'quarantine/',
  proofs: 'proofs/',
  manifests: 'manifests/',
} as const;

/** Properties of the {@link StorageStack}. */
export interface StorageStackProps extends StackProps {
  /** The validated configuration of the stage this stack belongs to. */
  readonly config: Config;
}

/**
 * Everything stateful of one stage: keys, buckets, tables and the pipeline event bus. Later stacks receive this
 * stack and use its grant helpers; nothing else reaches into its resources' policies.
 */
export class StorageStack extends Stack {
  /** Symmetric key for SSE-KMS of buckets, tables and the event bus. */
  public readonly dataKey: DataKey;
  /** Asymmetric RSA_4096 key that shippers wrap their data keys with. */
  public readonly envelopeKey: EnvelopeKey;
  /** ARN of {@link envelopeKey}: the EDK provider info of `esdk` envelopes and the process function's allow-list. */
  public readonly envelopeKeyArn: string;

  /** Receives S3 server access logs of every other bucket, one prefix per bucket. */
  public readonly accessLogsBucket: SecureBucket;
  /** Uploads as received: versioned, create-only. */
  public readonly rawBucket: SecureBucket;
  /** TAHOE Parquet: create-only (deterministic names make a rewrite unnecessary). */
  public readonly curatedBucket: SecureBucket;
  /** Records that could not be processed, with reasons. */
  public readonly quarantineBucket: SecureBucket;
  /** RFC 3161 evidence: versioned, create-only, Object Lock where configured. */
  public readonly proofsBucket: SecureBucket;
  /** Loader manifests (COPY input lists). */
  public readonly manifestsBucket: SecureBucket;

  /** One item per raw object version: outcome, counts, outputs, load and proof state. */
  public readonly ledgerTable: dynamodb.Table;
  /** Tenants and their hashed API keys. */
  public readonly tenantsTable: dynamodb.Table;

  /** Pipeline events such as `ObjectProcessed`. */
  public readonly eventBus: events.EventBus;
  /** Replayable history of {@link eventBus}. */
  public readonly eventArchive: events.Archive;

  constructor(scope: Construct, id: string, props: StorageStackProps) {
    super(scope, id, props);
    const { config } = props;
    const retention = config.retention;
    // A destroyable stage is torn down often; a shorter window frees the keys sooner. 7 days is the KMS minimum.
    const pendingWindow = Duration.days(config.destroyable ? 7 : 30);

    this.dataKey = new DataKey(this, 'DataKey', {
      description: `cyberactive ${config.stage}: SSE-KMS for buckets, tables and the pipeline event bus`,
      pendingWindow,
    });
    this.envelopeKey = new EnvelopeKey(this, 'EnvelopeKey', {
      description: `cyberactive ${config.stage}: RSA key wrapping the data keys of uploaded envelopes`,
      pendingWindow,
    });
    this.envelopeKeyArn = this.envelopeKey.keyArn;

    this.accessLogsBucket = new SecureBucket(this, 'AccessLogsBucket', {
      accessLogTarget: true,
      expirationDays: retention.accessLogsDays,
      incompleteUploadDays: retention.incompleteUploadDays,
    });
    // Scoped to the CfnBucket itself, not the L2 (which also holds the bucket policy).
    Validations.of(this.accessLogsBucket.node.defaultChild as IConstruct).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket is the server access log target of every other bucket; logging it into itself would log its own log deliveries.',
    });

    const common = (name: string) => ({
      encryptionKey: this.dataKey,
      serverAccessLogs: { bucket: this.accessLogsBucket, prefix: `${name}/` },
      incompleteUploadDays: retention.incompleteUploadDays,
      noncurrentVersionDays: retention.noncurrentVersionDays,
    });
    this.rawBucket = new SecureBucket(this, 'RawBucket', {
      ...common('raw'),
      versioned: true,
      createOnly: true,
      expirationDays: retention.rawDays,
    });
    this.curatedBucket = new SecureBucket(this, 'CuratedBucket', {
      ...common('curated'),
      createOnly: true,
      expirationDays: retention.curatedDays,
    });
    this.quarantineBucket = new SecureBucket(this, 'QuarantineBucket', {
      ...common('quarantine'),
      expirationDays: retention.quarantineDays,
    });
    this.proofsBucket = new SecureBucket(this, 'ProofsBucket', {
      ...common('proofs'),
      versioned: true,
      createOnly: true,
      expirationDays: retention.proofsDays,
      ...(config.proofsObjectLock ? { objectLock: config.proofsObjectLock } : {}),
    });
    this.manifestsBucket = new SecureBucket(this, 'ManifestsBucket', {
      ...common('manifests'),
      expirationDays: retention.manifestsDays,
    });

    const tableDefaults = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.dataKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: !config.destroyable,
    };
    this.ledgerTable = new dynamodb.Table(this, 'LedgerTable', {
      ...tableDefaults,
      partitionKey: { name: LEDGER_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: LEDGER_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
    });
    this.ledgerTable.addGlobalSecondaryIndex({
      indexName: LEDGER_SCHEMA.byTenantReceivedAt.indexName,
      partitionKey: { name: LEDGER_SCHEMA.byTenantReceivedAt.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: LEDGER_SCHEMA.byTenantReceivedAt.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    this.ledgerTable.addGlobalSecondaryIndex({
      indexName: LEDGER_SCHEMA.bySha256.indexName,
      partitionKey: { name: LEDGER_SCHEMA.bySha256.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: LEDGER_SCHEMA.bySha256.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    this.tenantsTable = new dynamodb.Table(this, 'TenantsTable', {
      ...tableDefaults,
      partitionKey: { name: TENANTS_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TENANTS_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
    });
    this.tenantsTable.addGlobalSecondaryIndex({
      indexName: TENANTS_SCHEMA.byKeyHash.indexName,
      partitionKey: { name: TENANTS_SCHEMA.byKeyHash.partitionKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });

    // The bus statement CDK adds to the key policy names the bus by its generated name, so key and bus do not
    // depend on each other.
    this.eventBus = new events.EventBus(this, 'PipelineBus', {
      description: `cyberactive ${config.stage}: pipeline events`,
      kmsKey: this.dataKey,
    });
    this.eventArchive = new events.Archive(this, 'PipelineArchive', {
      sourceEventBus: this.eventBus,
      description: `cyberactive ${config.stage}: every pipeline event, for replay`,
      eventPattern: { account: [this.account] },
      retention: Duration.days(retention.eventArchiveDays),
    });
    // Archive encryption is set on the L1 resource with a key statement keyed on the bus ARN built from the bus's
    // generated name (a lazy literal, not a Ref): passing `kmsKey` to the L2 would make the key policy reference the
    // bus's ARN attribute while the bus already references the key, a dependency cycle.
    const busName = (this.eventBus.node.defaultChild as events.CfnEventBus).name;
    this.dataKey.allowEventArchive(this.formatArn({ service: 'events', resource: 'event-bus', resourceName: busName }));
    (this.eventArchive.node.defaultChild as events.CfnArchive).kmsKeyIdentifier = this.dataKey.keyArn;

    new CfnOutput(this, 'EnvelopeKeyArnOutput', {
      description: 'KMS key ARN that shippers wrap envelope data keys with (EDK provider info of esdk envelopes)',
      value: this.envelopeKeyArn,
    });
  }

  /** Read raw uploads (and their versions). */
  public grantRawRead(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.rawBucket, this.rawBucket.bucketName);
    return this.rawBucket.grantRead(grantee, `${KEY_PREFIXES.raw}*`);
  }

  /** Create raw uploads, e.g. to sign presigned PUT URLs. Overwrites are refused by the bucket policy. */
  public grantRawWrite(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.rawBucket, this.rawBucket.bucketName);
    return this.rawBucket.grantPut(grantee, `${KEY_PREFIXES.raw}*`);
  }

  /** Read TAHOE Parquet, e.g. for the warehouse COPY role. */
  public grantCuratedRead(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.curatedBucket, this.curatedBucket.bucketName);
    return this.curatedBucket.grantRead(grantee, `${KEY_PREFIXES.curated}*`);
  }

  /** Write TAHOE Parquet (create-only: requests must carry `If-None-Match: *`). */
  public grantCuratedWrite(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.curatedBucket, this.curatedBucket.bucketName);
    return this.curatedBucket.grantPut(grantee, `${KEY_PREFIXES.curated}*`);
  }

  /** Read quarantined records. */
  public grantQuarantineRead(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.quarantineBucket, this.quarantineBucket.bucketName);
    return this.quarantineBucket.grantRead(grantee, `${KEY_PREFIXES.quarantine}*`);
  }

  /** Write quarantined records. */
  public grantQuarantineWrite(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.quarantineBucket, this.quarantineBucket.bucketName);
    return this.quarantineBucket.grantPut(grantee, `${KEY_PREFIXES.quarantine}*`);
  }

  /** Read evidence bundles. */
  public grantProofsRead(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.proofsBucket, this.proofsBucket.bucketName);
    return this.proofsBucket.grantRead(grantee, `${KEY_PREFIXES.proofs}*`);
  }

  /** Write evidence bundles (create-only). */
  public grantProofsWrite(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.proofsBucket, this.proofsBucket.bucketName);
    return this.proofsBucket.grantPut(grantee, `${KEY_PREFIXES.proofs}*`);
  }

  /** Read and write loader manifests. */
  public grantManifestsReadWrite(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.manifestsBucket, this.manifestsBucket.bucketName);
    return this.manifestsBucket.grantReadWrite(grantee, `${KEY_PREFIXES.manifests}*`);
  }

  /** Read manifests only, e.g. for the warehouse COPY role. */
  public grantManifestsRead(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.manifestsBucket, this.manifestsBucket.bucketName);
    return this.manifestsBucket.grantRead(grantee, `${KEY_PREFIXES.manifests}*`);
  }

  /** Query the ledger (table and indexes). */
  public grantLedgerRead(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.ledgerTable, this.ledgerTable.tableName);
    return this.ledgerTable.grantReadData(grantee);
  }

  /** Read and update ledger entries. */
  public grantLedgerReadWrite(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.ledgerTable, this.ledgerTable.tableName);
    return this.ledgerTable.grantReadWriteData(grantee);
  }

  /** Resolve API keys and tenant settings. */
  public grantTenantsRead(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.tenantsTable, this.tenantsTable.tableName);
    return this.tenantsTable.grantReadData(grantee);
  }

  /** Manage tenants and API keys. */
  public grantTenantsReadWrite(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.tenantsTable, this.tenantsTable.tableName);
    return this.tenantsTable.grantReadWriteData(grantee);
  }

  /** Publish pipeline events. */
  public grantPutEvents(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.eventBus, this.eventBus.eventBusName);
    return this.eventBus.grantPutEventsTo(grantee);
  }

  /** Unwrap envelope data keys (`kms:Decrypt` with an envelope algorithm). */
  public grantEnvelopeUnwrap(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.envelopeKeyArn, this.envelopeKeyArn);
    return this.envelopeKey.grantUnwrap(grantee);
  }

  /** Read the envelope public key, e.g. for `GET /v1/public-key`. */
  public grantEnvelopePublicKey(grantee: iam.IGrantable): iam.Grant {
    this.expose(grantee, STORAGE_ENV.envelopeKeyArn, this.envelopeKeyArn);
    return this.envelopeKey.grantPublicKey(grantee);
  }

  /** A function learns where a resource is from the same call that lets it use the resource. */
  private expose(grantee: iam.IGrantable, name: string, value: string): void {
    if (grantee instanceof lambda.Function) grantee.addEnvironment(name, value);
  }
}
