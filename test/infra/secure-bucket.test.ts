import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import { applyStageRemovalPolicy, DestroyWithStack } from '../../lib/aspects/destroy-with-stack';
import { SecureBucket, type SecureBucketProps } from '../../lib/constructs/secure-bucket';
import { cdkJsonContext } from './helpers';

function fixture() {
  const app = new App({ context: cdkJsonContext() });
  const stack = new Stack(app, 'Fixture');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const logs = new SecureBucket(stack, 'Logs', { accessLogTarget: true });
  const dataBucket = (id: string, extra: Partial<SecureBucketProps> = {}) =>
    new SecureBucket(stack, id, { encryptionKey: key, serverAccessLogs: { bucket: logs, prefix: `${id}/` }, ...extra });
  return { stack, key, logs, dataBucket };
}

describe('SecureBucket', () => {
  test('requires a KMS key unless the bucket is the access-log target', () => {
    const { stack, logs } = fixture();
    expect(() => new SecureBucket(stack, 'Plain', { serverAccessLogs: { bucket: logs, prefix: 'plain/' } })).toThrow(
      'Fixture/Plain: encryptionKey is required',
    );
  });

  test('refuses SSE-KMS on the access-log target, which server access logging cannot write to', () => {
    const { stack, key } = fixture();
    expect(() => new SecureBucket(stack, 'KmsLogs', { accessLogTarget: true, encryptionKey: key })).toThrow(
      /must use SSE-S3/,
    );
  });

  test('requires server access logs for every bucket but the log target', () => {
    const { stack, key } = fixture();
    expect(() => new SecureBucket(stack, 'Unlogged', { encryptionKey: key })).toThrow(/serverAccessLogs is required/);
  });

  test('requires the bucket-policy form of log delivery, since ACLs are disabled', () => {
    const stack = new Stack(new App({ context: { [S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY]: false } }), 'Legacy');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const logs = new SecureBucket(stack, 'Logs', { accessLogTarget: true });
    expect(
      () =>
        new SecureBucket(stack, 'Data', { encryptionKey: key, serverAccessLogs: { bucket: logs, prefix: 'data/' } }),
    ).toThrow(`enable the feature flag ${S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY}`);
  });

  test('refuses a log prefix without a trailing slash', () => {
    const { stack, key, logs } = fixture();
    expect(
      () => new SecureBucket(stack, 'Bad', { encryptionKey: key, serverAccessLogs: { bucket: logs, prefix: 'bad' } }),
    ).toThrow('Fixture/Bad: serverAccessLogs.prefix "bad" must end with /');
  });

  test('refuses a retention that is not a positive whole number of days', () => {
    const { dataBucket } = fixture();
    expect(() => dataBucket('Zero', { expirationDays: 0 })).toThrow('Fixture/Zero: expirationDays = 0');
    expect(() => dataBucket('Half', { objectLock: { mode: 'GOVERNANCE', days: 1.5 } })).toThrow(/objectLock\.days/);
  });

  test('adds the create-only statement only when asked', () => {
    const { stack, dataBucket } = fixture();
    dataBucket('Plain');
    dataBucket('Strict', { createOnly: true });
    const template = Template.fromStack(stack);
    const policies = template.findResources('AWS::S3::BucketPolicy');
    const sidsOf = (bucketIdPrefix: string) =>
      Object.values(policies)
        .filter((p) => String(p.Properties.Bucket.Ref).startsWith(bucketIdPrefix))
        .flatMap((p) => p.Properties.PolicyDocument.Statement.map((s: { Sid?: string }) => s.Sid));
    expect(sidsOf('Strict')).toContain('DenyWritesWithoutIfNoneMatch');
    expect(sidsOf('Plain')).not.toContain('DenyWritesWithoutIfNoneMatch');
  });

  test('object lock turns on versioning and applies the default retention', () => {
    const { stack, dataBucket } = fixture();
    dataBucket('Locked', { objectLock: { mode: 'GOVERNANCE', days: 10 } });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 10 } },
      },
    });
  });

  test('without settings, objects never expire and stale multipart uploads are aborted after 7 days', () => {
    const { stack, dataBucket } = fixture();
    dataBucket('Defaults');
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'Defaults/' },
      LifecycleConfiguration: {
        Rules: [{ Id: 'Retention', Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }],
      },
    });
  });

  test('retains the bucket by default', () => {
    const { stack, dataBucket } = fixture();
    dataBucket('Kept');
    Template.fromStack(stack).hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ LoggingConfiguration: { LogFilePrefix: 'Kept/' } }),
    });
  });
});

describe('stage removal policy', () => {
  test('a destroyable stage deletes every resource with its stack', () => {
    const { stack, dataBucket } = fixture();
    dataBucket('Data');
    applyStageRemovalPolicy(stack, { destroyable: true });
    const resources = Object.values(Template.fromStack(stack).toJSON().Resources) as Array<{ DeletionPolicy?: string }>;
    expect(resources.every((r) => r.DeletionPolicy === 'Delete')).toBe(true);
  });

  test('a non-destroyable stage is left alone', () => {
    const { stack, dataBucket } = fixture();
    dataBucket('Data');
    applyStageRemovalPolicy(stack, { destroyable: false });
    Template.fromStack(stack).hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    Template.fromStack(stack).hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });

  test('the aspect turns off DynamoDB deletion protection', () => {
    const { stack } = fixture();
    const table = new dynamodb.CfnTable(stack, 'Table', {
      keySchema: [{ attributeName: 'pk', keyType: 'HASH' }],
      attributeDefinitions: [{ attributeName: 'pk', attributeType: 'S' }],
      billingMode: 'PAY_PER_REQUEST',
      deletionProtectionEnabled: true,
    });
    new DestroyWithStack().visit(table);
    expect(table.deletionProtectionEnabled).toBe(false);
  });
});
