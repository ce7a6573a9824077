import { App, type CfnElement, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { parseStageConfig } from '../../lib/config';
import { WAREHOUSE_ENV, WAREHOUSE_LOG_EXPORTS } from '../../lib/constructs/warehouse-redshift';
import { STORAGE_ENV, StorageStack } from '../../lib/stacks/storage-stack';
import {
  FULL_LOAD_SCHEDULE_INPUT,
  LOADER_ENV,
  LOADER_SCHEDULE_INPUT,
  WarehouseStack,
} from '../../lib/stacks/warehouse-stack';
import { buildStage, cdkJsonContext, stageSettings } from './helpers';

type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Principal?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
};
type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };

/** Builds storage + warehouse for the dev stage with some settings replaced (without the nag plugin). */
function buildWith(settings: Record<string, unknown>) {
  const config = parseStageConfig('dev', { ...stageSettings('dev'), ...settings });
  const app = new App({ context: cdkJsonContext() });
  const storage = new StorageStack(app, 'Storage', { config });
  const stack = new WarehouseStack(app, 'Warehouse', { config, storage });
  return { storage, warehouse: stack, template: Template.fromStack(stack) };
}

function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId((construct.node.defaultChild ?? construct) as CfnElement);
}

const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function resourcesOfType(template: Template, type: string): [string, Resource][] {
  return Object.entries(template.findResources(type)) as [string, Resource][];
}

function onlyResource(template: Template, type: string): Resource {
  const found = resourcesOfType(template, type);
  expect(found).toHaveLength(1);
  return (found[0] as [string, Resource])[1];
}

/** The statements of the role policies whose logical id starts with `prefix`. */
function policyStatements(template: Template, prefix: string): Statement[] {
  const policies = resourcesOfType(template, 'AWS::IAM::Policy').filter(([id]) => id.startsWith(prefix));
  expect(policies.length).toBeGreaterThan(0);
  return policies.flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

const dev = buildStage('dev');
const devTemplate = Template.fromStack(dev.warehouse);
const prod = buildStage('prod');
const prodTemplate = Template.fromStack(prod.warehouse);
const devStorageTemplate = Template.fromStack(dev.storage);

describe('network', () => {
  test('has isolated subnets in three Availability Zones and no way out to the internet', () => {
    const subnets = resourcesOfType(devTemplate, 'AWS::EC2::Subnet');
    expect(subnets).toHaveLength(3);
    expect(subnets.map(([, s]) => s.Properties.AvailabilityZone)).toEqual(
      [0, 1, 2].map((i) => ({ 'Fn::Select': [i, { 'Fn::GetAZs': '' }] })),
    );
    for (const [, subnet] of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    for (const type of [
      'AWS::EC2::InternetGateway',
      'AWS::EC2::NatGateway',
      'AWS::EC2::EIP',
      'AWS::EC2::EgressOnlyInternetGateway',
    ]) {
      expect(resourcesOfType(devTemplate, type)).toEqual([]);
    }
    // The only routes are the gateway endpoints' (added by the endpoints themselves, not as AWS::EC2::Route).
    expect(resourcesOfType(devTemplate, 'AWS::EC2::Route')).toEqual([]);
  });

  test('reaches S3 and DynamoDB through gateway endpoints and the Data API and X-Ray through interface endpoints', () => {
    const endpoints = resourcesOfType(devTemplate, 'AWS::EC2::VPCEndpoint').map(([, e]) => ({
      service: JSON.stringify(e.Properties.ServiceName),
      type: e.Properties.VpcEndpointType ?? 'Gateway',
    }));
    const has = (service: string, type: string) =>
      endpoints.some((e) => e.type === type && new RegExp(`\\.${service}"`).test(e.service));
    expect(has('s3', 'Gateway')).toBe(true);
    expect(has('dynamodb', 'Gateway')).toBe(true);
    expect(has('redshift-data', 'Interface')).toBe(true);
    expect(has('xray', 'Interface')).toBe(true);
    expect(endpoints).toHaveLength(4);
  });

  test('logs every flow of the VPC', () => {
    devTemplate.hasResourceProperties('AWS::EC2::FlowLog', { ResourceType: 'VPC', TrafficType: 'ALL' });
  });

  test('admits no ingress from 0.0.0.0/0 or ::/0 anywhere, and none at all into the workgroup', () => {
    const groups = resourcesOfType(devTemplate, 'AWS::EC2::SecurityGroup');
    const inline = groups.flatMap(([, g]) => (g.Properties.SecurityGroupIngress as Record<string, unknown>[]) ?? []);
    const separate = resourcesOfType(devTemplate, 'AWS::EC2::SecurityGroupIngress').map(([, i]) => i.Properties);
    for (const rule of [...inline, ...separate]) {
      expect(rule.CidrIp).not.toBe('0.0.0.0/0');
      expect(rule.CidrIpv6).not.toBe('::/0');
    }
    const workgroupGroup = logicalId(dev.warehouse, dev.warehouse.network.workgroupSecurityGroup);
    expect(groups.find(([id]) => id === workgroupGroup)?.[1].Properties.SecurityGroupIngress).toBeUndefined();
    expect(JSON.stringify(separate)).not.toContain(workgroupGroup);
    // The endpoints admit the loader's security group only.
    expect(separate).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        SourceSecurityGroupId: {
          'Fn::GetAtt': [logicalId(dev.warehouse, dev.warehouse.network.loaderSecurityGroup), 'GroupId'],
        },
      }),
    ]);
  });
});

describe('Redshift Serverless', () => {
  test('the workgroup is not publicly accessible, routes COPY through the VPC and sits in the isolated subnets', () => {
    const workgroup = onlyResource(devTemplate, 'AWS::RedshiftServerless::Workgroup');
    expect(workgroup.Properties).toMatchObject({
      PubliclyAccessible: false,
      EnhancedVpcRouting: true,
      BaseCapacity: 8,
    });
    const subnetIds = resourcesOfType(devTemplate, 'AWS::EC2::Subnet').map(([id]) => ({ Ref: id }));
    expect(workgroup.Properties.SubnetIds).toEqual(subnetIds);
    expect(workgroup.Properties.SecurityGroupIds).toEqual([
      { 'Fn::GetAtt': [logicalId(dev.warehouse, dev.warehouse.network.workgroupSecurityGroup), 'GroupId'] },
    ]);
    expect(workgroup.Properties.ConfigParameters).toEqual(
      expect.arrayContaining([
        { ParameterKey: 'require_ssl', ParameterValue: 'true' },
        { ParameterKey: 'enable_user_activity_logging', ParameterValue: 'true' },
      ]),
    );
  });

  test('takes the base capacity from the configuration', () => {
    const { template } = buildWith({ warehouse: { baseCapacity: 32 } });
    template.hasResourceProperties('AWS::RedshiftServerless::Workgroup', { BaseCapacity: 32 });
  });

  test('the namespace is encrypted with the stage data key, which lets Redshift use it only through Redshift', () => {
    const namespace = onlyResource(devTemplate, 'AWS::RedshiftServerless::Namespace');
    const dataKeyId = logicalId(dev.storage, dev.storage.dataKey);
    expect(JSON.stringify(namespace.Properties.KmsKeyId)).toMatch(new RegExp(`${dataKeyId}Arn`));
    const keyPolicy = devStorageTemplate.toJSON().Resources[dataKeyId].Properties.KeyPolicy.Statement as Statement[];
    const redshiftUse = keyPolicy.find((s) => s.Sid === 'UseThroughRedshiftServerless');
    expect(JSON.stringify(redshiftUse?.Condition?.StringEquals?.['kms:ViaService'])).toContain('redshift-serverless.');
    expect(list(redshiftUse?.Action ?? [])).not.toContain('kms:*');
  });

  test('lets Redshift manage the admin password: none in the template', () => {
    const namespace = onlyResource(devTemplate, 'AWS::RedshiftServerless::Namespace');
    expect(namespace.Properties.ManageAdminPassword).toBe(true);
    expect(namespace.Properties.AdminUserPassword).toBeUndefined();
    expect(namespace.Properties).toMatchObject({ AdminUsername: 'cyberactive_admin', DbName: 'cyberactive' });
    expect(resourcesOfType(devTemplate, 'AWS::SecretsManager::Secret')).toEqual([]);
  });

  test('exports connection, user and user-activity audit logs', () => {
    const namespace = onlyResource(devTemplate, 'AWS::RedshiftServerless::Namespace');
    expect(namespace.Properties.LogExports).toEqual([...WAREHOUSE_LOG_EXPORTS]);
    expect([...WAREHOUSE_LOG_EXPORTS].sort()).toEqual(['connectionlog', 'useractivitylog', 'userlog']);
  });

  test('keeps the namespace when the production stack goes, and deletes it with a destroyable stage', () => {
    expect(onlyResource(prodTemplate, 'AWS::RedshiftServerless::Namespace').DeletionPolicy).toBe('Retain');
    expect(onlyResource(devTemplate, 'AWS::RedshiftServerless::Namespace').DeletionPolicy).toBe('Delete');
  });

  test('names namespace and workgroup from their construct paths, within Redshift Serverless naming rules', () => {
    const ns = onlyResource(devTemplate, 'AWS::RedshiftServerless::Namespace').Properties.NamespaceName as string;
    const wg = onlyResource(devTemplate, 'AWS::RedshiftServerless::Workgroup').Properties.WorkgroupName as string;
    for (const name of [ns, wg]) expect(name).toMatch(/^[a-z0-9-]{3,64}$/);
    expect(ns).not.toBe(wg);
    expect(onlyResource(prodTemplate, 'AWS::RedshiftServerless::Namespace').Properties.NamespaceName).not.toBe(ns);
  });
});

describe('COPY role', () => {
  const role = () => {
    const namespace = onlyResource(devTemplate, 'AWS::RedshiftServerless::Namespace');
    const roleId = logicalId(dev.warehouse, dev.warehouse.warehouse.copyRole);
    expect(namespace.Properties.DefaultIamRoleArn).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
    expect(namespace.Properties.IamRoles).toEqual([{ 'Fn::GetAtt': [roleId, 'Arn'] }]);
    return roleId;
  };

  test('is the namespace default role, assumable by Redshift only, with no managed policy', () => {
    const roleId = role();
    const properties = devTemplate.toJSON().Resources[roleId].Properties;
    expect(properties.ManagedPolicyArns).toBeUndefined();
    const principals = (properties.AssumeRolePolicyDocument.Statement as Statement[]).flatMap((s) =>
      list((s.Principal as { Service: string | string[] }).Service),
    );
    expect(principals.sort()).toEqual(['redshift-serverless.amazonaws.com', 'redshift.amazonaws.com']);
  });

  test('may read only objects under tahoe/ and manifests/ and decrypt them through S3, nothing else', () => {
    const statements = policyStatements(devTemplate, `${role().slice(0, -8)}DefaultPolicy`);
    const actions = statements.flatMap((s) => list(s.Action)).sort();
    expect(actions).toEqual(['kms:Decrypt', 's3:GetObject', 's3:GetObject', 's3:ListBucket', 's3:ListBucket']);
    for (const s of statements) expect(s.Effect).toBe('Allow');

    const objectResources = statements
      .filter((s) => list(s.Action).includes('s3:GetObject'))
      .flatMap((s) => list(s.Resource))
      .map((r) => JSON.stringify(r));
    expect(objectResources).toHaveLength(2);
    expect(objectResources.some((r) => /CuratedBucket.*"\/tahoe\/\*"/.test(r))).toBe(true);
    expect(objectResources.some((r) => /ManifestsBucket.*"\/manifests\/\*"/.test(r))).toBe(true);

    const prefixes = statements
      .filter((s) => list(s.Action).includes('s3:ListBucket'))
      .map((s) => s.Condition?.StringLike?.['s3:prefix']);
    expect(prefixes).toEqual([['tahoe/*'], ['manifests/*']]);

    const decrypt = statements.find((s) => list(s.Action).includes('kms:Decrypt'));
    expect(JSON.stringify(decrypt?.Condition?.StringEquals?.['kms:ViaService'])).toContain('"s3."');
    expect(JSON.stringify(decrypt?.Resource)).toContain(logicalId(dev.storage, dev.storage.dataKey));
  });
});

describe('loader function', () => {
  const fnId = () => logicalId(dev.warehouse, dev.warehouse.loaderFunction);
  const fnProps = () => devTemplate.toJSON().Resources[fnId()].Properties;

  test('runs one at a time: reserved concurrency 1, no Lambda retries, stale invocations dropped', () => {
    expect(fnProps().ReservedConcurrentExecutions).toBe(1);
    devTemplate.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId() },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 900,
    });
  });

  test('is attached to the isolated subnets with its own security group', () => {
    const subnetIds = resourcesOfType(devTemplate, 'AWS::EC2::Subnet').map(([id]) => ({ Ref: id }));
    expect(fnProps().VpcConfig).toEqual({
      SubnetIds: subnetIds,
      SecurityGroupIds: [
        { 'Fn::GetAtt': [logicalId(dev.warehouse, dev.warehouse.network.loaderSecurityGroup), 'GroupId'] },
      ],
    });
  });

  test('gets sql/ as a layer and is told where it is', () => {
    const layers = resourcesOfType(devTemplate, 'AWS::Lambda::LayerVersion');
    expect(layers).toHaveLength(1);
    expect(fnProps().Layers).toEqual([{ Ref: layers[0]?.[0] }]);
    expect(fnProps().Environment.Variables[LOADER_ENV.sqlDir]).toBe('/opt');
  });

  test('learns workgroup, database, secret and buckets from the grants that give it access', () => {
    const variables = fnProps().Environment.Variables as Record<string, unknown>;
    expect(variables[WAREHOUSE_ENV.workgroup]).toBe(dev.warehouse.warehouse.workgroupName);
    expect(variables[WAREHOUSE_ENV.database]).toBe('cyberactive');
    expect(variables[WAREHOUSE_ENV.secret]).toBe(`redshift!${dev.warehouse.warehouse.namespaceName}-cyberactive_admin`);
    for (const name of [STORAGE_ENV.curatedBucket, STORAGE_ENV.manifestsBucket, STORAGE_ENV.ledgerTable]) {
      expect(variables[name]).toBeDefined();
    }
  });

  test('sets every variable the handler requires, in the form it accepts', async () => {
    // The handler parses its environment when loaded (Lambda's init phase): give it one first.
    const stand = {
      CURATED_BUCKET: 'curated',
      MANIFESTS_BUCKET: 'manifests',
      LEDGER_TABLE: 'ledger',
      RAW_BUCKET: 'raw',
      QUARANTINE_BUCKET: 'quarantine',
      TENANTS_TABLE: 'tenants',
      WAREHOUSE_WORKGROUP: 'wg',
      WAREHOUSE_DATABASE: 'db',
      AWS_REGION: 'eu-west-1',
    };
    for (const [name, value] of Object.entries(stand)) process.env[name] ??= value;
    const { loaderEnvSchema } = await import('../../lambdas/handlers/loader');
    const { loadEnv } = await import('../../lambdas/shared/env');
    const variables = fnProps().Environment.Variables as Record<string, unknown>;
    const required = Object.entries(loaderEnvSchema.shape)
      .filter(([, field]) => !field.safeParse(undefined).success)
      .map(([name]) => name);
    for (const name of required) expect(variables).toHaveProperty(name);
    // References to other stacks resolve at deployment; stand in for them with names.
    const resolved = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [name, typeof value === 'string' ? value : `resolved-${name}`]),
    );
    const env = loadEnv(loaderEnvSchema, resolved);
    expect(env.WAREHOUSE_SECRET).toMatch(/^redshift!/);
    expect(env.WAREHOUSE_SQL_DIR).toBe('/opt');
    expect(env.LOAD_RECENT_DAYS).toBe(2);
  });

  test('is told how many days a scheduled load lists, from the stage configuration', () => {
    expect(fnProps().Environment.Variables[LOADER_ENV.recentDays]).toBe('2');
    const { template } = buildWith({ warehouse: { loadRecentDays: 7 } });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [LOADER_ENV.recentDays]: '7' }) },
    });
  });

  test('may use the Data API on this workgroup only, read only the admin secret, and write only manifests', () => {
    const statements = policyStatements(devTemplate, 'LoaderFunctionRoleDefaultPolicy');
    const workgroupArn = {
      'Fn::GetAtt': [logicalId(dev.warehouse, dev.warehouse.warehouse.workgroup), 'Workgroup.WorkgroupArn'],
    };
    const run = statements.filter((s) =>
      list(s.Action).some((a) => /^redshift-data:(Batch)?ExecuteStatement$/.test(a)),
    );
    expect(run).toHaveLength(1);
    expect(run[0]?.Resource).toEqual(workgroupArn);

    const own = statements.find((s) => list(s.Action).includes('redshift-data:GetStatementResult'));
    expect(own?.Condition).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: IAM policy variable
      StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' },
    });

    const secretStatements = statements.filter((s) => list(s.Action).some((a) => a.startsWith('secretsmanager:')));
    expect(secretStatements.map((s) => s.Action)).toEqual(['secretsmanager:GetSecretValue']);
    expect(JSON.stringify(secretStatements[0]?.Resource)).toContain(
      `:secret:redshift!${dev.warehouse.warehouse.namespaceName}-cyberactive_admin-??????`,
    );

    const writes = statements.filter((s) => list(s.Action).includes('s3:PutObject'));
    expect(writes.map((s) => JSON.stringify(s.Resource))).toEqual([
      expect.stringMatching(/ManifestsBucket.*"\/manifests\/\*"/),
    ]);
    const actions = statements.flatMap((s) => list(s.Action));
    expect(actions).not.toContain('s3:DeleteObject*');
    expect(actions.filter((a) => a.endsWith(':*') || a === '*')).toEqual([]);
    expect(actions.some((a) => a.startsWith('redshift-serverless:') || a.startsWith('redshift:'))).toBe(false);
  });

  test('manages its network interfaces only in its subnets and security group', () => {
    const statements = policyStatements(devTemplate, 'LoaderFunctionRoleDefaultPolicy');
    const create = statements.find((s) => list(s.Action).includes('ec2:CreateNetworkInterface'));
    const resources = list(create?.Resource).map((r) => JSON.stringify(r));
    expect(resources.filter((r) => r.includes(':subnet/'))).toHaveLength(3);
    expect(resources.filter((r) => r.includes(':security-group/'))).toEqual([
      expect.stringContaining(logicalId(dev.warehouse, dev.warehouse.network.loaderSecurityGroup)),
    ]);
  });
});

describe('loader schedule', () => {
  test('invokes the loader on the configured expression with retries and a dead-letter queue', () => {
    const dlqId = logicalId(dev.warehouse, dev.warehouse.scheduleDeadLetterQueue);
    devTemplate.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [logicalId(dev.warehouse, dev.warehouse.loaderFunction), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } },
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 900 },
        Input: JSON.stringify(LOADER_SCHEDULE_INPUT),
      },
    });
    const { template } = buildWith({ schedules: { loader: 'cron(0/10 * * * ? *)' } });
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'cron(0/10 * * * ? *)' });
  });

  test('sends a daily full load at 02:30 UTC with the load schedule’s retries, DLQ and role', () => {
    const schedules = resourcesOfType(devTemplate, 'AWS::Scheduler::Schedule').map(([, s]) => s.Properties);
    const target = (input: object) =>
      schedules.find((p) => (p.Target as { Input: string }).Input === JSON.stringify(input)) as
        | { ScheduleExpression: string; ScheduleExpressionTimezone?: string; Target: Record<string, unknown> }
        | undefined;
    const full = target(FULL_LOAD_SCHEDULE_INPUT);
    const load = target(LOADER_SCHEDULE_INPUT);
    expect(FULL_LOAD_SCHEDULE_INPUT).toEqual({ source: 'schedule', listing: 'full' });
    expect(full).toMatchObject({
      ScheduleExpression: 'cron(30 2 * * ? *)',
      ScheduleExpressionTimezone: 'Etc/UTC',
      Target: {
        Arn: { 'Fn::GetAtt': [logicalId(dev.warehouse, dev.warehouse.loaderFunction), 'Arn'] },
        DeadLetterConfig: {
          Arn: { 'Fn::GetAtt': [logicalId(dev.warehouse, dev.warehouse.scheduleDeadLetterQueue), 'Arn'] },
        },
      },
    });
    for (const field of ['DeadLetterConfig', 'RetryPolicy', 'RoleArn']) {
      expect(full?.Target[field]).toEqual(load?.Target[field]);
    }
    const { template } = buildWith({ schedules: { fullLoad: 'cron(15 4 * * ? *)' } });
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(15 4 * * ? *)',
      Target: { Input: JSON.stringify(FULL_LOAD_SCHEDULE_INPUT) },
    });
  });

  test('keeps its dead letters encrypted, TLS-only, for 14 days', () => {
    const dlq = devTemplate.toJSON().Resources[logicalId(dev.warehouse, dev.warehouse.scheduleDeadLetterQueue)];
    expect(dlq.Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400 });
    const policy = onlyResource(devTemplate, 'AWS::SQS::QueuePolicy');
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
  });
});

describe('alarms', () => {
  const alarm = (construct: IConstruct) =>
    devTemplate.toJSON().Resources[logicalId(dev.warehouse, construct)].Properties;
  const topic = () => ({ Ref: logicalId(dev.warehouse, dev.warehouse.alarmTopic.topic) });

  test('raises the freshness alarm on WarehouseFreshnessSeconds, and when the loader falls silent', () => {
    const props = alarm(dev.warehouse.freshnessAlarm);
    expect(props).toMatchObject({
      Namespace: 'Cyberactive',
      MetricName: 'WarehouseFreshnessSeconds',
      Dimensions: [{ Name: 'service', Value: 'loader' }],
      Threshold: 3600,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      // Twelve 5-minute periods without a successful run's datapoint: an hour of silence.
      Period: 300,
      EvaluationPeriods: 12,
      DatapointsToAlarm: 12,
      TreatMissingData: 'breaching',
      AlarmActions: [topic()],
      OKActions: [topic()],
    });
    const { template, warehouse } = buildWith({ warehouse: { freshnessAlarmSeconds: 900 } });
    expect(template.toJSON().Resources[logicalId(warehouse, warehouse.freshnessAlarm)].Properties).toMatchObject({
      Threshold: 900,
      EvaluationPeriods: 3,
    });
  });

  test('raises an alarm on any loader error and on reported load failures', () => {
    expect(alarm(dev.warehouse.loaderErrorsAlarm)).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(dev.warehouse, dev.warehouse.loaderFunction) } }],
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      AlarmActions: [topic()],
    });
    expect(alarm(dev.warehouse.loadFailuresAlarm)).toMatchObject({
      Namespace: 'Cyberactive',
      MetricName: 'LoadFailures',
      Dimensions: [{ Name: 'service', Value: 'loader' }],
      Threshold: 0,
      AlarmActions: [topic()],
    });
  });

  test('raises an alarm when the scheduler dead-letters an invocation', () => {
    expect(alarm(dev.warehouse.scheduleDeadLetterAlarm)).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 0,
      AlarmActions: [topic()],
    });
  });
});
