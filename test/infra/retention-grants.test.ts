/**
 * Retention on AWS: the daily age-off schedule of the loader function, and exactly the permissions age-off and
 * purge add to the loader's role (lambdas/warehouse/retention.ts), with nothing on the proofs bucket and no way
 * for a bucket policy to stand in the way of a purge's deletes.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TENANT_SETTINGS_ATTRIBUTES } from '../../lambdas/adapters/dynamo-tenant-directory';
import { parseStageConfig } from '../../lib/config';
import { STORAGE_ENV, StorageStack } from '../../lib/stacks/storage-stack';
import { AGE_OFF_SCHEDULE_INPUT, LOADER_SCHEDULE_INPUT, WarehouseStack } from '../../lib/stacks/warehouse-stack';
import { buildStage, cdkJsonContext, stageSettings } from './helpers';

type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Resource = { Type: string; Properties: Record<string, unknown> };

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

const dev = buildStage('dev');
const template = Template.fromStack(dev.warehouse);
const resources = template.toJSON().Resources as Record<string, Resource>;
const fnId = dev.warehouse.getLogicalId(dev.warehouse.loaderFunction.node.defaultChild as never);

function loaderStatements(): Statement[] {
  return Object.entries(resources)
    .filter(([id, r]) => r.Type === 'AWS::IAM::Policy' && id.startsWith('LoaderFunctionRoleDefaultPolicy'))
    .flatMap(([, r]) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** Each resource of the statements as text, with the action it is granted: `action @ resource`. */
function grants(filter: (action: string) => boolean): string[] {
  const out: string[] = [];
  for (const s of loaderStatements()) {
    for (const action of list(s.Action).filter(filter)) {
      for (const r of list(s.Resource)) out.push(`${action} @ ${show(r)}`);
    }
  }
  return out.sort();
}

/** A resource reference as `<Output of the storage stack><suffix>`, readable and stable. */
function show(resource: unknown): string {
  const text = JSON.stringify(resource);
  const output = /"OutputName":"PublishOutputFnGetAtt([A-Za-z]+?)[0-9A-F]{8}Arn[0-9A-F]+"/.exec(text)?.[1] ?? text;
  const suffix = /"(\/[^"]*)"\]\]\}$/.exec(text)?.[1] ?? '';
  return `${output}${suffix}`;
}

describe('age-off schedule', () => {
  test('sends {"action":"age-off"} to the loader daily at 03:00 UTC, with the load schedule’s retries and DLQ', () => {
    const schedules = Object.values(resources).filter((r) => r.Type === 'AWS::Scheduler::Schedule');
    const ageOff = schedules.find((s) => (s.Properties.Target as { Input: string }).Input.includes('age-off'));
    const load = schedules.find(
      (s) => (s.Properties.Target as { Input: string }).Input === JSON.stringify(LOADER_SCHEDULE_INPUT),
    );
    // The load schedule, the daily full load (test/infra/warehouse-stack.test.ts) and age-off.
    expect(schedules).toHaveLength(3);
    expect(ageOff?.Properties).toMatchObject({
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Input: JSON.stringify(AGE_OFF_SCHEDULE_INPUT),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 900 },
      },
    });
    const target = (s: Resource | undefined) => s?.Properties.Target as Record<string, unknown>;
    expect(target(ageOff).DeadLetterConfig).toEqual(target(load).DeadLetterConfig);
    expect(target(ageOff).RetryPolicy).toEqual(target(load).RetryPolicy);
    expect(target(ageOff).RoleArn).toEqual(target(load).RoleArn);
  });

  test('takes its expression from the stage configuration', () => {
    const config = parseStageConfig('dev', { ...stageSettings('dev'), schedules: { ageOff: 'cron(30 1 * * ? *)' } });
    const app = new App({ context: cdkJsonContext() });
    const storage = new StorageStack(app, 'Storage', { config });
    const stack = new WarehouseStack(app, 'Warehouse', { config, storage });
    Template.fromStack(stack).hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(30 1 * * ? *)',
      Target: { Input: JSON.stringify(AGE_OFF_SCHEDULE_INPUT) },
    });
  });
});

describe('the loader role, for retention', () => {
  test('may delete exactly raw object versions, quarantine files and Parquet files, each under its prefix', () => {
    expect(grants((a) => a.startsWith('s3:Delete'))).toEqual([
      's3:DeleteObject @ CuratedBucket/tahoe/*',
      's3:DeleteObject @ QuarantineBucket/quarantine/*',
      's3:DeleteObject @ RawBucket/raw/*',
      's3:DeleteObjectVersion @ RawBucket/raw/*',
    ]);
  });

  test('may HEAD what it deletes, list the buckets it purges, and write only manifests and purge records', () => {
    expect(grants((a) => a === 's3:GetObject' || a === 's3:GetObjectVersion')).toEqual([
      's3:GetObject @ ManifestsBucket/manifests/*',
      's3:GetObject @ ManifestsBucket/purges/*',
      's3:GetObject @ QuarantineBucket/quarantine/*',
      's3:GetObject @ RawBucket/raw/*',
      's3:GetObjectVersion @ RawBucket/raw/*',
    ]);
    expect(grants((a) => a === 's3:ListBucket')).toEqual([
      's3:ListBucket @ QuarantineBucket',
      's3:ListBucket @ RawBucket',
    ]);
    expect(grants((a) => a === 's3:PutObject')).toEqual([
      's3:PutObject @ ManifestsBucket/manifests/*',
      's3:PutObject @ ManifestsBucket/purges/*',
    ]);
  });

  test('has no permission at all on the proofs bucket (proofs are left by a purge)', () => {
    expect(JSON.stringify(loaderStatements())).not.toContain('ProofsBucket');
  });

  test('may only Scan the tenant table, projected to the settings attributes: never API key hashes', () => {
    const onTenants = loaderStatements().filter((s) => JSON.stringify(s.Resource).includes('TenantsTable'));
    expect(onTenants).toEqual([
      {
        Sid: 'ScanTenantSettings',
        Effect: 'Allow',
        Action: 'dynamodb:Scan',
        Resource: expect.anything(),
        Condition: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TENANT_SETTINGS_ATTRIBUTES] },
          StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      },
    ]);
    expect(TENANT_SETTINGS_ATTRIBUTES).not.toContain('key_hash');
    // The table itself, not its indexes (byKeyHash holds the API key hashes).
    expect(JSON.stringify(onTenants[0]?.Resource)).not.toContain('/index/');
  });

  test('learns the raw and quarantine buckets and the tenant table from the grant', () => {
    const fn = resources[fnId] as Resource;
    const variables = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(JSON.stringify(variables[STORAGE_ENV.rawBucket])).toContain('RawBucket');
    expect(JSON.stringify(variables[STORAGE_ENV.quarantineBucket])).toContain('QuarantineBucket');
    expect(JSON.stringify(variables[STORAGE_ENV.tenantsTable])).toContain('TenantsTable');
  });
});

describe('bucket policies', () => {
  test('deny no delete: create-only and encryption rules are about PutObject alone', () => {
    const storage = Template.fromStack(dev.storage).toJSON().Resources as Record<string, Resource>;
    const denied = Object.values(storage)
      .filter((r) => r.Type === 'AWS::S3::BucketPolicy')
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((s) => s.Effect === 'Deny')
      .flatMap((s) => list(s.Action));
    expect(denied.length).toBeGreaterThan(0);
    // `s3:*` is in the TLS statements only, which deny requests over plain HTTP or old TLS and nothing else.
    expect(denied.filter((a) => a !== 's3:*' && !/^s3:PutObject$/.test(a))).toEqual([]);
    const tlsOnly = Object.values(storage)
      .filter((r) => r.Type === 'AWS::S3::BucketPolicy')
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
      .filter((s) => s.Effect === 'Deny' && list(s.Action).includes('s3:*'));
    for (const s of tlsOnly) {
      expect([
        { Bool: { 'aws:SecureTransport': 'false' } },
        { NumericLessThan: { 's3:TlsVersion': 1.2 } },
      ]).toContainEqual(s.Condition);
    }
  });
});
