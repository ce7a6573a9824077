import type { CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import type { Config } from '../../lib/config';
import type { StorageStack } from '../../lib/stacks/storage-stack';
import { buildStage } from './helpers';

type Resource = { Type: string; Properties?: Record<string, unknown>; DeletionPolicy?: string };
type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};

interface Built {
  stack: StorageStack;
  config: Config;
  template: Template;
  resources: Record<string, Resource>;
}

function build(stage: string): Built {
  const { storage, config } = buildStage(stage);
  const template = Template.fromStack(storage);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return { stack: storage, config, template, resources };
}

function logicalId(stack: StorageStack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

function actions(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function bucketsOf(built: Built) {
  const { stack } = built;
  return {
    accessLogs: stack.accessLogsBucket,
    raw: stack.rawBucket,
    curated: stack.curatedBucket,
    quarantine: stack.quarantineBucket,
    proofs: stack.proofsBucket,
    manifests: stack.manifestsBucket,
  };
}

function propsOf(built: Built, construct: IConstruct): Record<string, unknown> {
  const properties = built.resources[logicalId(built.stack, construct)]?.Properties;
  if (!properties) throw new Error(`no resource for ${construct.node.path}`);
  return properties;
}

function bucketPolicy(built: Built, bucketId: string): Statement[] {
  const policy = Object.values(built.resources).find(
    (r) =>
      r.Type === 'AWS::S3::BucketPolicy' && (r.Properties?.Bucket as { Ref?: string } | undefined)?.Ref === bucketId,
  );
  const document = policy?.Properties?.PolicyDocument as { Statement: Statement[] } | undefined;
  if (!document) throw new Error(`no bucket policy for ${bucketId}`);
  return document.Statement;
}

function keyPolicy(built: Built, keyId: string): Statement[] {
  const policy = built.resources[keyId]?.Properties?.KeyPolicy as { Statement: Statement[] } | undefined;
  if (!policy) throw new Error(`no key policy for ${keyId}`);
  return policy.Statement;
}

const stages: Record<string, Built> = {};
beforeAll(() => {
  stages.dev = build('dev');
  stages.prod = build('prod');
});
const stage = (name: 'dev' | 'prod'): Built => {
  const built = stages[name];
  if (!built) throw new Error(`stage ${name} was not built`);
  return built;
};

describe.each(['dev', 'prod'] as const)('StorageStack (%s)', (name) => {
  test('creates the six buckets of the design and no others', () => {
    const built = stage(name);
    built.template.resourceCountIs('AWS::S3::Bucket', 6);
    for (const bucket of Object.values(bucketsOf(built))) {
      expect(built.resources[logicalId(built.stack, bucket)]?.Type).toBe('AWS::S3::Bucket');
    }
  });

  test('every bucket blocks all public access and enforces bucket-owner object ownership', () => {
    const buckets = stage(name).template.findResources('AWS::S3::Bucket');
    for (const bucket of Object.values(buckets)) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.OwnershipControls.Rules).toEqual([{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    }
  });

  test('every bucket policy denies plain HTTP and TLS older than 1.2', () => {
    const built = stage(name);
    for (const bucket of Object.values(bucketsOf(built))) {
      const statements = bucketPolicy(built, logicalId(built.stack, bucket));
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      );
      expect(statements).toContainEqual(
        expect.objectContaining({
          Effect: 'Deny',
          Action: 's3:*',
          Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
        }),
      );
    }
  });

  test('data buckets use SSE-KMS with the data key and a bucket key; the log bucket uses SSE-S3', () => {
    const built = stage(name);
    const dataKeyId = logicalId(built.stack, built.stack.dataKey);
    const { accessLogs, ...data } = bucketsOf(built);
    for (const bucket of Object.values(data)) {
      expect(propsOf(built, bucket).BucketEncryption).toHaveProperty('ServerSideEncryptionConfiguration', [
        {
          BucketKeyEnabled: true,
          BlockedEncryptionTypes: { EncryptionType: ['SSE-C'] },
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: { 'Fn::GetAtt': [dataKeyId, 'Arn'] },
          },
        },
      ]);
    }
    const logSse = built.resources[logicalId(built.stack, accessLogs)]?.Properties?.BucketEncryption;
    expect(logSse).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BlockedEncryptionTypes: { EncryptionType: ['SSE-C'] },
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' },
        },
      ],
    });
  });

  test('data buckets refuse uploads that name another encryption type or KMS key', () => {
    const built = stage(name);
    const { accessLogs: _logs, ...data } = bucketsOf(built);
    for (const bucket of Object.values(data)) {
      const sids = bucketPolicy(built, logicalId(built.stack, bucket)).map((s) => s.Sid);
      expect(sids).toEqual(expect.arrayContaining(['DenyOtherEncryptionTypes', 'DenyOtherKmsKeys']));
    }
  });

  test('raw and proofs are versioned; curated, quarantine and manifests are not', () => {
    const built = stage(name);
    const versioning = (bucket: IConstruct) =>
      built.resources[logicalId(built.stack, bucket)]?.Properties?.VersioningConfiguration;
    const b = bucketsOf(built);
    expect(versioning(b.raw)).toEqual({ Status: 'Enabled' });
    expect(versioning(b.proofs)).toEqual({ Status: 'Enabled' });
    for (const bucket of [b.curated, b.quarantine, b.manifests, b.accessLogs])
      expect(versioning(bucket)).toBeUndefined();
  });

  test('denies raw, curated and proofs writes that lack If-None-Match, and only those buckets', () => {
    const built = stage(name);
    const b = bucketsOf(built);
    const createOnlyStatement = {
      Sid: 'DenyWritesWithoutIfNoneMatch',
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 's3:PutObject',
      Condition: { Null: { 's3:if-none-match': 'true' }, Bool: { 's3:ObjectCreationOperation': 'true' } },
    };
    for (const bucket of [b.raw, b.curated, b.proofs]) {
      expect(bucketPolicy(built, logicalId(built.stack, bucket))).toContainEqual(
        expect.objectContaining(createOnlyStatement),
      );
    }
    for (const bucket of [b.quarantine, b.manifests, b.accessLogs]) {
      const sids = bucketPolicy(built, logicalId(built.stack, bucket)).map((s) => s.Sid);
      expect(sids).not.toContain('DenyWritesWithoutIfNoneMatch');
    }
  });

  test('lifecycle rules implement the stage retention settings', () => {
    const built = stage(name);
    const r = built.config.retention;
    const b = bucketsOf(built);
    const expected: Array<[IConstruct, number, boolean]> = [
      [b.raw, r.rawDays, true],
      [b.curated, r.curatedDays, false],
      [b.quarantine, r.quarantineDays, false],
      [b.proofs, r.proofsDays, true],
      [b.manifests, r.manifestsDays, false],
      [b.accessLogs, r.accessLogsDays, false],
    ];
    for (const [bucket, days, versioned] of expected) {
      const rules = (propsOf(built, bucket).LifecycleConfiguration as { Rules: Array<Record<string, unknown>> }).Rules;
      expect(rules).toContainEqual({
        Id: 'Retention',
        Status: 'Enabled',
        ExpirationInDays: days,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.incompleteUploadDays },
        ...(versioned ? { NoncurrentVersionExpiration: { NoncurrentDays: r.noncurrentVersionDays } } : {}),
      });
      if (versioned) {
        expect(rules).toContainEqual({
          Id: 'RemoveExpiredDeleteMarkers',
          Status: 'Enabled',
          ExpiredObjectDeleteMarker: true,
        });
      }
    }
  });

  test('every bucket but the log bucket sends server access logs to the log bucket under its own prefix', () => {
    const built = stage(name);
    const { accessLogs, ...data } = bucketsOf(built);
    const logBucketId = logicalId(built.stack, accessLogs);
    const prefixes = Object.values(data).map((bucket) => {
      const logging = built.resources[logicalId(built.stack, bucket)]?.Properties?.LoggingConfiguration as {
        DestinationBucketName: unknown;
        LogFilePrefix: string;
      };
      expect(logging.DestinationBucketName).toEqual({ Ref: logBucketId });
      return logging.LogFilePrefix;
    });
    expect(prefixes).toEqual(['raw/', 'curated/', 'quarantine/', 'proofs/', 'manifests/']);
    expect(built.resources[logBucketId]?.Properties?.LoggingConfiguration).toBeUndefined();
    // The log bucket lets the logging service write each prefix, only on behalf of this account's buckets.
    const deliveries = bucketPolicy(built, logBucketId).filter(
      (s) => s.Effect === 'Allow' && JSON.stringify(s.Principal).includes('logging.s3.amazonaws.com'),
    );
    expect(deliveries).toHaveLength(5);
    for (const delivery of deliveries) expect(delivery.Condition?.StringEquals).toHaveProperty(['aws:SourceAccount']);
  });

  test('the data key rotates and can be used only through S3, DynamoDB, SQS and Redshift Serverless', () => {
    const built = stage(name);
    const id = logicalId(built.stack, built.stack.dataKey);
    expect(built.resources[id]?.Properties?.EnableKeyRotation).toBe(true);
    expect(built.resources[id]?.Properties?.KeySpec).toBeUndefined();
    const statements = keyPolicy(built, id);
    for (const s of statements) expect(actions(s)).not.toContain('kms:*');
    const accountUse = statements.filter(
      (s) =>
        JSON.stringify(s.Principal).includes(':root') &&
        actions(s).some((a) => /Decrypt|Encrypt|GenerateDataKey/.test(a)),
    );
    // UseThroughSqs is added by the ProcessingStack for its queues, UseThroughRedshiftServerless by the
    // WarehouseStack for the namespace; both are encrypted with this key.
    expect(accountUse.map((s) => s.Sid)).toEqual([
      'UseThroughS3AndDynamoDb',
      'UseThroughSqs',
      'UseThroughRedshiftServerless',
    ]);
    expect(JSON.stringify(accountUse[0]?.Condition?.StringEquals?.['kms:ViaService'])).toMatch(/s3\..*dynamodb\./);
    expect(JSON.stringify(accountUse[1]?.Condition?.StringEquals?.['kms:ViaService'])).toMatch(
      /^\{"Fn::Join":\["",\["sqs\./,
    );
  });

  test('the envelope key is RSA_4096 ENCRYPT_DECRYPT and decrypts only with the envelope algorithms', () => {
    const built = stage(name);
    const id = logicalId(built.stack, built.stack.envelopeKey);
    expect(built.resources[id]?.Properties).toMatchObject({ KeySpec: 'RSA_4096', KeyUsage: 'ENCRYPT_DECRYPT' });
    const statements = keyPolicy(built, id);
    const all = statements.flatMap(actions);
    for (const forbidden of ['kms:*', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant']) {
      expect(all).not.toContain(forbidden);
    }
    const decrypt = statements.filter((s) => actions(s).includes('kms:Decrypt'));
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0]?.Condition).toEqual({
      StringEquals: { 'kms:EncryptionAlgorithm': ['RSAES_OAEP_SHA_256', 'RSAES_OAEP_SHA_1'] },
    });
    expect(built.template.toJSON().Outputs.EnvelopeKeyArnOutput.Value).toEqual({ 'Fn::GetAtt': [id, 'Arn'] });
  });

  test('tables are on-demand, encrypted with the data key and have point-in-time recovery', () => {
    const built = stage(name);
    const dataKeyArn = { 'Fn::GetAtt': [logicalId(built.stack, built.stack.dataKey), 'Arn'] };
    for (const table of [built.stack.ledgerTable, built.stack.tenantsTable]) {
      expect(built.resources[logicalId(built.stack, table)]?.Properties).toMatchObject({
        BillingMode: 'PAY_PER_REQUEST',
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: dataKeyArn },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
    }
  });

  test('the ledger is keyed per object version with tenant/time and sha256 indexes', () => {
    const built = stage(name);
    expect(built.resources[logicalId(built.stack, built.stack.ledgerTable)]?.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        expect.objectContaining({
          IndexName: 'byTenantReceivedAt',
          KeySchema: [
            { AttributeName: 'tenant', KeyType: 'HASH' },
            { AttributeName: 'received_at', KeyType: 'RANGE' },
          ],
        }),
        expect.objectContaining({
          IndexName: 'bySha256',
          KeySchema: [
            { AttributeName: 'sha256', KeyType: 'HASH' },
            { AttributeName: 'tenant', KeyType: 'RANGE' },
          ],
        }),
      ],
    });
    expect(built.resources[logicalId(built.stack, built.stack.tenantsTable)]?.Properties).toMatchObject({
      KeySchema: [
        { AttributeName: 'tenant', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        expect.objectContaining({
          IndexName: 'byKeyHash',
          KeySchema: [{ AttributeName: 'key_hash', KeyType: 'HASH' }],
        }),
      ],
    });
  });

  test('the event bus and its archive are encrypted with the data key without a dependency cycle', () => {
    const built = stage(name);
    const keyId = logicalId(built.stack, built.stack.dataKey);
    const busId = logicalId(built.stack, built.stack.eventBus);
    expect(built.resources[busId]?.Properties?.KmsKeyIdentifier).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    built.template.hasResourceProperties('AWS::Events::Archive', {
      KmsKeyIdentifier: { 'Fn::GetAtt': [keyId, 'Arn'] },
      RetentionDays: built.config.retention.eventArchiveDays,
      SourceArn: { 'Fn::GetAtt': [busId, 'Arn'] },
    });
    // The key policy must name the bus by its literal name, never by a reference to the bus resource.
    expect(JSON.stringify(built.resources[keyId])).not.toContain(busId);
    expect(JSON.stringify(keyPolicy(built, keyId))).toContain('kms:EncryptionContext:aws:events:event-bus:arn');
  });
});

describe('stage removal policies', () => {
  const stateful = ['AWS::S3::Bucket', 'AWS::DynamoDB::Table', 'AWS::KMS::Key'];

  test('prod retains buckets, tables and keys, protects tables from deletion and the stack from termination', () => {
    const built = stage('prod');
    for (const type of stateful) {
      const found = Object.values(built.template.findResources(type));
      expect(found.length).toBeGreaterThan(0);
      for (const resource of found) expect(resource.DeletionPolicy).toBe('Retain');
    }
    for (const table of Object.values(built.template.findResources('AWS::DynamoDB::Table'))) {
      expect(table.Properties.DeletionProtectionEnabled).toBe(true);
    }
    expect(built.stack.terminationProtection).toBe(true);
  });

  test('dev deletes every resource with the stack and has no termination protection', () => {
    const built = stage('dev');
    const kept = Object.entries(built.resources).filter(
      ([, r]) => r.Type !== 'AWS::CDK::Metadata' && r.DeletionPolicy !== 'Delete',
    );
    expect(kept).toEqual([]);
    for (const table of Object.values(built.template.findResources('AWS::DynamoDB::Table'))) {
      expect(table.Properties.DeletionProtectionEnabled).toBe(false);
    }
    for (const key of Object.values(built.template.findResources('AWS::KMS::Key'))) {
      expect(key.Properties.PendingWindowInDays).toBe(7);
    }
    expect(built.stack.terminationProtection).toBe(false);
  });

  test('prod puts a compliance-mode Object Lock on proofs as configured; dev has none', () => {
    const prod = stage('prod');
    const lock = prod.config.proofsObjectLock;
    expect(lock).toBeDefined();
    expect(prod.resources[logicalId(prod.stack, prod.stack.proofsBucket)]?.Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: lock?.mode, Days: lock?.days } },
      },
    });
    const dev = stage('dev');
    for (const bucket of Object.values(dev.template.findResources('AWS::S3::Bucket'))) {
      expect(bucket.Properties.ObjectLockEnabled).toBeUndefined();
    }
  });
});
