import '../unit/handlers/process-env';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { processEnvSchema } from '../../lambdas/handlers/process';
import { loadEnv } from '../../lambdas/shared/env';
import { parseStageConfig } from '../../lib/config';
import { ProcessingStack } from '../../lib/stacks/processing-stack';
import { StorageStack } from '../../lib/stacks/storage-stack';
import { buildStage, cdkJsonContext, stageSettings } from './helpers';

type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: unknown;
};

/** Builds storage + processing for the dev stage with some settings replaced (without the nag plugin). */
function buildWith(settings: Record<string, unknown>) {
  const dev = stageSettings('dev');
  const config = parseStageConfig('dev', { ...dev, ...settings });
  const app = new App({ context: cdkJsonContext() });
  const storage = new StorageStack(app, 'Storage', { config });
  const stack = new ProcessingStack(app, 'Processing', { config, storage });
  return { app, storage, processing: stack, template: Template.fromStack(stack) };
}

function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

function actionsOf(s: Statement): string[] {
  return Array.isArray(s.Action) ? s.Action : [s.Action];
}

function resourcesOf(s: Statement): unknown[] {
  return Array.isArray(s.Resource) ? s.Resource : [s.Resource];
}

/** The statements of the process function's role (its only policy). */
function functionStatements(template: Template): Statement[] {
  const policies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) =>
    id.startsWith('ProcessFunctionRole'),
  );
  expect(policies).toHaveLength(1);
  return policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const dev = buildStage('dev');
const devTemplate = Template.fromStack(dev.processing);
const prod = buildStage('prod');
const prodTemplate = Template.fromStack(prod.processing);

describe('raw-events queue', () => {
  test('dead-letters a message after maxReceiveCount deliveries and keeps both queues 14 days', () => {
    const dlq = logicalId(dev.processing, dev.processing.deadLetterQueue);
    devTemplate.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 5 },
      MessageRetentionPeriod: 14 * 86_400,
    });
    expect(devTemplate.toJSON().Resources[dlq].Properties.MessageRetentionPeriod).toBe(14 * 86_400);
    expect(buildWith({ processing: { maxReceiveCount: 3 } }).template.toJSON().Resources).toEqual(
      expect.objectContaining({
        [logicalId(dev.processing, dev.processing.queue)]: expect.objectContaining({
          Properties: expect.objectContaining({ RedrivePolicy: expect.objectContaining({ maxReceiveCount: 3 }) }),
        }),
      }),
    );
  });

  test.each([
    [undefined, 900],
    [120, 120],
  ])('has a visibility timeout of at least six function timeouts (timeoutSeconds %p)', (timeoutSeconds, timeout) => {
    const { template, processing } = buildWith({ processing: timeoutSeconds ? { timeoutSeconds } : {} });
    const fn = template.toJSON().Resources[logicalId(processing, processing.processFunction)];
    const queue = template.toJSON().Resources[logicalId(processing, processing.queue)];
    expect(fn.Properties.Timeout).toBe(timeout);
    expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Properties.Timeout);
  });

  test('both queues are encrypted with the data key and refuse requests without TLS', () => {
    const dataKey = logicalId(dev.storage, dev.storage.dataKey);
    const queues = Object.values(devTemplate.findResources('AWS::SQS::Queue'));
    expect(queues).toHaveLength(2);
    for (const queue of queues) expect(JSON.stringify(queue.Properties.KmsMasterKeyId)).toContain(dataKey);
    const policies = Object.values(devTemplate.findResources('AWS::SQS::QueuePolicy'));
    expect(policies).toHaveLength(2);
    for (const policy of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
  });

  test('receives ObjectCreated notifications of raw/ from the raw bucket only', () => {
    const queue = logicalId(dev.processing, dev.processing.queue);
    const rawBucket = logicalId(dev.storage, dev.storage.rawBucket);
    const [notifications] = Object.values(devTemplate.findResources('Custom::S3BucketNotifications'));
    expect(JSON.stringify(notifications?.Properties.BucketName)).toContain(rawBucket);
    expect(notifications?.Properties.NotificationConfiguration).toEqual({
      QueueConfigurations: [
        {
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'raw/' }] } },
          QueueArn: { 'Fn::GetAtt': [queue, 'Arn'] },
        },
      ],
    });
    // Other notification configurations of the bucket are kept (the bucket is not owned by this stack).
    expect(notifications?.Properties.Managed).toBe(false);
    const statements = Object.values(devTemplate.findResources('AWS::SQS::QueuePolicy')).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const send = statements.filter((s) => s.Effect === 'Allow' && actionsOf(s).includes('sqs:SendMessage'));
    expect(send).toHaveLength(1);
    expect(send[0]?.Principal).toEqual({ Service: 's3.amazonaws.com' });
    expect(JSON.stringify(send[0]?.Condition)).toContain(rawBucket);
    expect(send[0]?.Condition).toMatchObject({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } });
  });

  test('lets S3 send to the encrypted queue and consumers use the data key, but only through SQS', () => {
    const key = Template.fromStack(dev.storage).toJSON().Resources[logicalId(dev.storage, dev.storage.dataKey)];
    const statements = key.Properties.KeyPolicy.Statement as Statement[];
    expect(statements.find((s) => s.Sid === 'UseThroughSqs')).toMatchObject({
      Condition: {
        StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['sqs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      },
    });
    expect(statements.find((s) => s.Sid === 'S3NotificationsToEncryptedQueues')).toMatchObject({
      Principal: { Service: 's3.amazonaws.com' },
      Action: expect.arrayContaining(['kms:GenerateDataKey', 'kms:Decrypt']),
    });
  });
});

describe('process function', () => {
  test('runs nodejs22.x on ARM64 with tracing, the configured memory and timeout, and source maps', () => {
    devTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      MemorySize: 1769,
      Timeout: 900,
      TracingConfig: { Mode: 'Active' },
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'process',
          NODE_OPTIONS: Match.stringLikeRegexp('^--enable-source-maps'),
          ROWS_PER_PART: '100000',
          MAX_RECORD_BYTES: '1048576',
        }),
      },
    });
    const custom = buildWith({ processing: { memoryMb: 3008, rowsPerPart: 5000 } }).template;
    custom.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 3008,
      Environment: { Variables: Match.objectLike({ ROWS_PER_PART: '5000' }) },
    });
  });

  test('is told where its resources are by the grants that give it access', () => {
    const fn = Object.values(devTemplate.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.Runtime === 'nodejs22.x',
    );
    expect(Object.keys(fn?.Properties.Environment.Variables).sort()).toEqual(
      [
        'ALLOWED_TYPETAGS',
        'CURATED_BUCKET',
        'ENVELOPE_KEY_ARN',
        'EVENT_BUS_NAME',
        'LEASE_MS',
        'LEDGER_TABLE',
        'MAX_ATTEMPTS',
        'MAX_RECORD_BYTES',
        'NODE_OPTIONS',
        'POWERTOOLS_METRICS_NAMESPACE',
        'POWERTOOLS_SERVICE_NAME',
        'QUARANTINE_BUCKET',
        'RAW_BUCKET',
        'ROWS_PER_PART',
        'TENANTS_TABLE',
      ].sort(),
    );
  });

  test('sets every variable the handler reads, with values its environment schema accepts', () => {
    const fn = Object.values(devTemplate.findResources('AWS::Lambda::Function')).find(
      (f) => f.Properties.Runtime === 'nodejs22.x',
    );
    const variables = fn?.Properties.Environment.Variables as Record<string, unknown>;
    for (const name of Object.keys(processEnvSchema.shape)) expect(variables).toHaveProperty(name);
    // Resource names and ARNs are references until deployment; stand in for them with values of the same kind.
    const resolved = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [
        name,
        typeof value === 'string'
          ? value
          : name === 'ENVELOPE_KEY_ARN'
            ? 'arn:aws:kms:eu-west-1:123456789012:key/0f0e0d0c-0b0a-0908-0706-050403020100'
            : `resolved-${name.toLowerCase().replace(/_/g, '-')}`,
      ]),
    );
    const env = loadEnv(processEnvSchema, resolved);
    expect(env.ALLOWED_TYPETAGS).toEqual([
      'cowrie',
      'unr_honeypot',
      'sighting',
      'email',
      'openphish_feed',
      'phishtank_feed',
    ]);
    expect(env.MAX_ATTEMPTS).toBe(10);
    expect(env.LEASE_MS).toBe(120_000);
  });

  test('derives the ledger lease and attempts from the stage settings: the lease ends before SQS redelivers', () => {
    const { template, processing } = buildWith({
      allowedTypetags: ['cowrie', 'email'],
      processing: { timeoutSeconds: 30, maxReceiveCount: 3 },
    });
    const resources = template.toJSON().Resources;
    const fn = resources[logicalId(processing, processing.processFunction)].Properties;
    const queue = resources[logicalId(processing, processing.queue)].Properties;
    expect(fn.Environment.Variables).toMatchObject({
      ALLOWED_TYPETAGS: 'cowrie,email',
      LEASE_MS: '30000',
      MAX_ATTEMPTS: '6',
    });
    expect(Number(fn.Environment.Variables.LEASE_MS)).toBeLessThan(queue.VisibilityTimeout * 1000);
    // The ledger refuses limits above 100 attempts.
    const many = buildWith({ processing: { maxReceiveCount: 1000 } });
    const manyFn = many.template.toJSON().Resources[logicalId(many.processing, many.processing.processFunction)];
    expect(manyFn.Properties.Environment.Variables.MAX_ATTEMPTS).toBe('100');
  });

  test('logs to its own log group with the stage retention', () => {
    const logGroup = logicalId(dev.processing, dev.processing.processFunction.functionLogGroup);
    devTemplate.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: logGroup }, LogFormat: 'JSON' },
    });
    expect(devTemplate.toJSON().Resources[logGroup].Properties.RetentionInDays).toBe(90);
    const retention = { ...(stageSettings('dev').retention as object), logDays: 14 };
    expect(buildWith({ retention }).template.toJSON().Resources[logGroup].Properties.RetentionInDays).toBe(14);
  });

  test.each([
    ['dev', () => devTemplate, 5],
    ['prod', () => prodTemplate, 50],
  ])('%s: reads the queue with partial batch responses, one message per batch, bounded concurrency', (_s, t, max) => {
    t().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 1,
      ScalingConfig: { MaximumConcurrency: max },
    });
  });

  test('stages output on a 10 GiB /tmp and caps the V8 heap below the function memory', () => {
    devTemplate.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('raw object'),
      EphemeralStorage: { Size: 10240 },
      Environment: { Variables: Match.objectLike({ NODE_OPTIONS: '--enable-source-maps --max-old-space-size=1061' }) },
    });
  });

  test('was bundled locally with a source map (no Docker)', () => {
    const assembly = dev.app.synth();
    const assetDirs = readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
    // Our functions' bundles; CDK's own prebuilt custom-resource providers (with __entrypoint__.js) ship no map.
    const bundles = assetDirs.filter(
      (d) =>
        existsSync(join(assembly.directory, d, 'index.js')) &&
        !existsSync(join(assembly.directory, d, '__entrypoint__.js')),
    );
    expect(bundles.length).toBeGreaterThan(0);
    for (const dir of bundles) expect(existsSync(join(assembly.directory, dir, 'index.js.map'))).toBe(true);
  });
});

describe('process function permissions (least privilege)', () => {
  const statements = functionStatements(devTemplate);
  const fragment = (c: IConstruct) => logicalId(dev.storage, c);

  test('grants no service-wide action and no Resource "*" except X-Ray, which has no resource-level permissions', () => {
    for (const s of statements) {
      expect(s.Effect).toBe('Allow');
      for (const action of actionsOf(s)) expect(action).not.toMatch(/^(\*|[a-z0-9-]+:\*)$/);
      if (resourcesOf(s).includes('*')) expect(actionsOf(s).every((a) => a.startsWith('xray:'))).toBe(true);
    }
    const role = Object.entries(devTemplate.findResources('AWS::IAM::Role')).find(([id]) =>
      id.startsWith('ProcessFunctionRole'),
    );
    expect(role?.[1].Properties.ManagedPolicyArns).toBeUndefined();
  });

  test('reads objects only under raw/ of the raw bucket', () => {
    const readers = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('s3:GetObject')));
    expect(readers).toHaveLength(1);
    const resources = resourcesOf(readers[0] as Statement).map((r) => JSON.stringify(r));
    expect(resources.every((r) => r.includes(fragment(dev.storage.rawBucket)))).toBe(true);
    expect(resources.some((r) => r.includes('"/raw/*"'))).toBe(true);
  });

  test('writes objects only under tahoe/ of the curated bucket and quarantine/ of the quarantine bucket', () => {
    const writers = statements.filter((s) => actionsOf(s).includes('s3:PutObject'));
    const resources = writers.flatMap(resourcesOf).map((r) => JSON.stringify(r));
    expect(resources).toHaveLength(2);
    expect(resources).toContainEqual(
      expect.stringMatching(new RegExp(`${fragment(dev.storage.curatedBucket)}.*"/tahoe/\\*"`)),
    );
    expect(resources).toContainEqual(
      expect.stringMatching(new RegExp(`${fragment(dev.storage.quarantineBucket)}.*"/quarantine/\\*"`)),
    );
    expect(statements.flatMap(actionsOf).filter((a) => a.startsWith('s3:Delete'))).toEqual([]);
  });

  test('decrypts only with the data key and the envelope key', () => {
    const decrypting = statements.filter((s) => actionsOf(s).includes('kms:Decrypt'));
    const keys = decrypting.flatMap(resourcesOf).map((r) => JSON.stringify(r));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect([fragment(dev.storage.dataKey), fragment(dev.storage.envelopeKey)].some((k) => key.includes(k))).toBe(
        true,
      );
    }
    expect(keys.some((k) => k.includes(fragment(dev.storage.envelopeKey)))).toBe(true);
    // The envelope key is only ever used to decrypt (unwrap).
    const envelope = statements.filter((s) => JSON.stringify(s.Resource).includes(fragment(dev.storage.envelopeKey)));
    expect(envelope.flatMap(actionsOf)).toEqual(['kms:Decrypt']);
  });

  test('reaches the ledger, the event bus and its queue, and nothing else of the storage stack', () => {
    const resources = statements.flatMap(resourcesOf).map((r) => JSON.stringify(r));
    const allowed = [
      dev.storage.rawBucket,
      dev.storage.curatedBucket,
      dev.storage.quarantineBucket,
      dev.storage.ledgerTable,
      dev.storage.tenantsTable,
      dev.storage.eventBus,
      dev.storage.dataKey,
      dev.storage.envelopeKey,
    ].map(fragment);
    const ownQueue = logicalId(dev.processing, dev.processing.queue);
    const ownLogGroup = logicalId(dev.processing, dev.processing.processFunction.functionLogGroup);
    for (const resource of resources) {
      if (resource === '"*"') continue;
      expect([...allowed, ownQueue, ownLogGroup].some((id) => resource.includes(id))).toBe(true);
    }
    expect(statements.find((s) => JSON.stringify(s.Resource).includes(fragment(dev.storage.eventBus)))?.Action).toBe(
      'events:PutEvents',
    );
  });
});

describe('process function and the tenant registry', () => {
  test('reads tenant settings but cannot change tenants or API keys', () => {
    const tenants = logicalId(dev.storage, dev.storage.tenantsTable);
    const onTenants = functionStatements(devTemplate).filter((s) => JSON.stringify(s.Resource).includes(tenants));
    const actions = onTenants.flatMap(actionsOf);
    expect(actions).toContain('dynamodb:GetItem');
    expect(actions.filter((a) => /^dynamodb:(Put|Update|Delete|BatchWrite)/.test(a))).toEqual([]);
  });
});

describe('alarms', () => {
  const resources = devTemplate.toJSON().Resources;
  const topic = logicalId(dev.processing, dev.processing.alarmTopic.topic);

  test('an alarm fires on any message in the DLQ and notifies the alarm topic', () => {
    const alarm = resources[logicalId(dev.processing, dev.processing.deadLetterAlarm)].Properties;
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [logicalId(dev.processing, dev.processing.deadLetterQueue), 'QueueName'] },
        },
      ],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [{ Ref: topic }],
    });
  });

  test('an alarm fires when the oldest queued message is older than the configured bound', () => {
    const alarm = resources[logicalId(dev.processing, dev.processing.queueAgeAlarm)].Properties;
    expect(alarm).toMatchObject({
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(dev.processing, dev.processing.queue), 'QueueName'] } },
      ],
      Threshold: 3600,
      AlarmActions: [{ Ref: topic }],
    });
    const custom = buildWith({ processing: { queueAgeAlarmSeconds: 600 } });
    expect(
      custom.template.toJSON().Resources[logicalId(custom.processing, custom.processing.queueAgeAlarm)].Properties
        .Threshold,
    ).toBe(600);
  });

  test('an alarm fires on failed invocations', () => {
    const alarm = resources[logicalId(dev.processing, dev.processing.functionErrorsAlarm)].Properties;
    expect(alarm).toMatchObject({ Namespace: 'AWS/Lambda', MetricName: 'Errors', AlarmActions: [{ Ref: topic }] });
  });

  test('the alarm topic is encrypted, TLS-only, and mails the configured address', () => {
    const key = logicalId(dev.processing, dev.processing.alarmTopic.key);
    expect(resources[topic].Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [key, 'Arn'] });
    expect(resources[key].Properties.EnableKeyRotation).toBe(true);
    devTemplate.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'cyberactive-dev-alarms@example.com',
      TopicArn: { Ref: topic },
    });
    const policies = Object.values(devTemplate.findResources('AWS::SNS::TopicPolicy'));
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    expect(statements.find((s) => s.Sid === 'CloudWatchAlarmsOfThisAccount')?.Condition).toMatchObject({
      StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
    });
  });

  test('prod mails its own address', () => {
    prodTemplate.hasResourceProperties('AWS::SNS::Subscription', { Endpoint: 'cyberactive-oncall@example.com' });
  });
});
