import { resolve } from 'node:path';
import { ArnFormat, CfnOutput, Duration, Fn, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct, IConstruct } from 'constructs';
import { TENANT_SETTINGS_ATTRIBUTES } from '../../lambdas/adapters/dynamo-tenant-directory';
import { METRICS_NAMESPACE, MetricName } from '../../lambdas/shared/observability';
import type { Config } from '../config';
import { AlarmTopic } from '../constructs/alarms';
import { PipelineFunction } from '../constructs/pipeline-function';
import { WarehouseNetwork } from '../constructs/warehouse-network';
import { acknowledgeRoleWildcards, RedshiftServerlessWarehouse } from '../constructs/warehouse-redshift';
import { KEY_PREFIXES, STORAGE_ENV, type StorageStack } from './storage-stack';

/** Powertools service name of the loader: its logs, traces and the `service` dimension of its metrics. */
export const LOADER_SERVICE = 'loader';

/** Environment variables of the loader set by this stack (not by a grant helper). */
export const LOADER_ENV = { sqlDir: 'WAREHOUSE_SQL_DIR', recentDays: 'LOAD_RECENT_DAYS' } as const;

/** The repository's sql/ folder: migrations, dialect folders and views. */
const SQL_DIR = resolve(__dirname, '..', '..', 'sql');

/** The payload the schedule sends; the handler ignores anything else about the event. It lists recent days only. */
export const LOADER_SCHEDULE_INPUT = { source: 'schedule' } as const;

/** The payload of the daily full load: every Parquet file under tahoe/ is listed (lambdas/handlers/loader.ts). */
export const FULL_LOAD_SCHEDULE_INPUT = { source: 'schedule', listing: 'full' } as const;

/** The payload of the daily age-off schedule (lambdas/handlers/loader.ts parses it). */
export const AGE_OFF_SCHEDULE_INPUT = { action: 'age-off' } as const;

/** Where purge records go in the manifests bucket (`purgeRecordKey` in lambdas/shared/s3-keys.ts). */
export const PURGE_RECORDS_PREFIX = 'purges/';

/** Properties of the {@link WarehouseStack}. */
export interface WarehouseStackProps extends StackProps {
  /** The validated configuration of the stage. */
  readonly config: Config;
  /** The stage's stateful resources: the data key, the curated and manifests buckets, the ledger. */
  readonly storage: StorageStack;
}

/** SQS keeps messages at most 14 days; the DLQ keeps them that long so that an operator can look at them. */
const MAX_MESSAGE_RETENTION = Duration.days(14);

/** Period of the loader's metric alarms. */
const FRESHNESS_PERIOD = Duration.minutes(5);

/**
 * Redshift Serverless and the loader that fills it (DESIGN.md §3.8): an isolated VPC, the namespace and workgroup,
 * and the loader function, started by an EventBridge Scheduler schedule, one run at a time.
 *
 * Why single-flight: a run takes the Parquet files not yet in `load_log` and loads them in one transaction; two runs
 * at once would only wait on the warehouse's lock and find nothing left to do. Reserved concurrency 1 makes a second
 * invocation wait in Lambda's asynchronous queue instead of starting, and that queue drops what has waited longer than
 * one run: the next tick of the schedule does the work. A failed run is not retried by Lambda for the same reason
 * (the next tick is the retry, and the error alarm tells an operator).
 */
export class WarehouseStack extends Stack {
  public readonly network: WarehouseNetwork;
  public readonly warehouse: RedshiftServerlessWarehouse;
  public readonly loaderFunction: PipelineFunction;
  /** Invocations the scheduler could not deliver after its retries. */
  public readonly scheduleDeadLetterQueue: sqs.Queue;
  /** Loads of the recent days' partitions (the tenants of the directory), every few minutes. */
  public readonly loaderSchedule: scheduler.Schedule;
  /** Daily load that lists every Parquet file: late files of older days, tenants gone from the directory. */
  public readonly fullLoadSchedule: scheduler.Schedule;
  /** Daily warehouse age-off, sent to the loader function (serialised with loads by its reserved concurrency). */
  public readonly ageOffSchedule: scheduler.Schedule;
  public readonly alarmTopic: AlarmTopic;
  /** Loader invocations that failed (a failed load, a crash, a time-out). */
  public readonly loaderErrorsAlarm: cloudwatch.Alarm;
  /** The loader reported a failed load (`LoadFailures`). */
  public readonly loadFailuresAlarm: cloudwatch.Alarm;
  /** No successful loader run for `warehouse.freshnessAlarmSeconds` (silence counts as staleness). */
  public readonly freshnessAlarm: cloudwatch.Alarm;
  /** Schedule invocations in the DLQ: the scheduler could not start the loader. */
  public readonly scheduleDeadLetterAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: WarehouseStackProps) {
    super(scope, id, props);
    const { config, storage } = props;
    const w = config.warehouse;
    const timeout = Duration.seconds(w.loaderTimeoutSeconds);

    this.network = new WarehouseNetwork(this, 'Network', { flowLogRetentionDays: config.retention.logDays });
    this.warehouse = new RedshiftServerlessWarehouse(this, 'Warehouse', {
      network: this.network,
      dataKey: storage.dataKey,
      copySources: [
        { bucket: storage.curatedBucket, prefix: KEY_PREFIXES.curated },
        { bucket: storage.manifestsBucket, prefix: KEY_PREFIXES.manifests },
      ],
      databaseName: w.databaseName,
      adminUsername: w.adminUsername,
      baseCapacity: w.baseCapacity,
    });

    this.loaderFunction = new PipelineFunction(this, 'LoaderFunction', {
      entry: 'lambdas/handlers/loader.ts',
      serviceName: LOADER_SERVICE,
      description: `cyberactive ${config.stage}: unloaded Parquet → manifest → Redshift (COPY, MERGE, load_log) in one transaction`,
      memoryMb: w.loaderMemoryMb,
      timeout,
      logRetentionDays: config.retention.logDays,
    });
    const fn = this.loaderFunction;
    // The migrations and views are read from files at run time (lambdas/warehouse/migrations.ts); the function
    // bundle holds code only, so sql/ travels as a layer, which Lambda unpacks under /opt.
    fn.addLayers(
      new lambda.LayerVersion(this, 'SqlLayer', {
        // PostgreSQL's own migrations stay out: the loader here reads the shared and the Redshift ones.
        code: lambda.Code.fromAsset(SQL_DIR, { exclude: ['postgres', 'postgres/**'] }),
        description: `cyberactive ${config.stage}: warehouse migrations and views (sql/)`,
        compatibleRuntimes: [lambda.Runtime.NODEJS_22_X],
        compatibleArchitectures: [lambda.Architecture.ARM_64],
      }),
    );
    fn.addEnvironment(LOADER_ENV.sqlDir, '/opt');
    fn.addEnvironment(LOADER_ENV.recentDays, String(w.loadRecentDays));
    const cfnFunction = fn.node.defaultChild as lambda.CfnFunction;
    cfnFunction.reservedConcurrentExecutions = 1;
    this.placeInVpc(fn);

    storage.grantCuratedRead(fn);
    storage.grantLedgerReadWrite(fn);
    this.grantManifestsWrite(storage, fn);
    this.grantRetention(storage, fn);
    this.warehouse.grantDataApi(fn);
    fn.acknowledgeWildcardPermissions([
      {
        finding: /^Resource::\*$/,
        reason:
          'Actions without resource-level permissions: X-Ray PutTraceSegments/PutTelemetryRecords, ec2:DescribeNetworkInterfaces/DescribeSubnets for the VPC attachment, and the Data API DescribeStatement/GetStatementResult/CancelStatement, which the statement-owner condition confines to the function’s own statements.',
      },
      {
        finding: /^Action::s3:(GetObject|GetBucket|List|Abort)\*$/,
        reason:
          'Action groups of the StorageStack grant helpers (read objects, list, abort a multipart upload); each is limited to one bucket and one key prefix (tahoe/ or manifests/).',
      },
      {
        finding: /^Action::kms:(GenerateDataKey|ReEncrypt)\*$/,
        reason:
          'SSE-KMS use of the data key that the bucket and table grants imply; limited to that key, whose key policy admits use only through S3, DynamoDB and the services named there.',
      },
      {
        finding: /^Resource::.+\/(tahoe|manifests)\/\*$/,
        reason:
          'Parquet files and manifests are named per file and per load; access is scoped to the key prefix the loader reads (tahoe/) or writes (manifests/).',
      },
      {
        finding: /^Resource::.+\/(raw|quarantine|purges)\/\*$/,
        reason:
          'Purge deletes the raw objects and quarantine files of a tenant or an object, named per upload, so access is scoped to the bucket’s key prefix (raw/, quarantine/), and writes purge records, named per purge, under purges/.',
      },
      {
        finding: /^Resource::.+\/index\/\*$/,
        reason:
          "Read access that the ledger grant helper gives to the table's indexes (byTenantReceivedAt, bySha256); DynamoDB names index ARNs under the table ARN.",
      },
      {
        finding: /^Resource::arn:.+:secretsmanager:.+:secret:redshift!.+-\?\?\?\?\?\?$/,
        reason:
          'The admin secret that Redshift creates and names redshift!<namespace>-<user>; Secrets Manager appends six random characters, matched by ??????, so the pattern names exactly that secret.',
      },
      {
        finding: /^Resource::arn:.+:ec2:.+:network-interface\/\*$/,
        reason:
          'Lambda creates and deletes the network interfaces of its VPC attachment with the execution role; their ids are not known in advance (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions).',
      },
    ]);

    // One run at a time (reserved concurrency 1): an invocation that waited longer than a run could take is
    // superseded by a later tick, and a failed run is retried by the next tick, not by Lambda.
    // https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html
    fn.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(Math.max(60, w.loaderTimeoutSeconds)) });

    this.scheduleDeadLetterQueue = new sqs.Queue(this, 'LoaderScheduleDeadLetterQueue', {
      // The messages are the schedule's fixed input and error attributes, no pipeline data: SQS-managed keys suffice
      // and keep the data key's policy free of a statement for EventBridge Scheduler.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: MAX_MESSAGE_RETENTION,
    });
    Validations.of(this.scheduleDeadLetterQueue.node.defaultChild as IConstruct).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is the dead-letter queue of the loader schedule (EventBridge Scheduler), which cdk-nag cannot see; a DLQ has no DLQ of its own.',
    });
    this.loaderSchedule = new scheduler.Schedule(this, 'LoaderSchedule', {
      schedule: scheduler.ScheduleExpression.expression(config.schedules.loader),
      description: `cyberactive ${config.stage}: starts the warehouse loader`,
      target: new targets.LambdaInvoke(fn, {
        input: scheduler.ScheduleTargetInput.fromObject(LOADER_SCHEDULE_INPUT),
        deadLetterQueue: this.scheduleDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.minutes(15),
      }),
    });

    // A scheduled load lists only the recent days of the directory's tenants; this one lists everything, so that a
    // file of an older day (a late redrive, a reprocess) or of a tenant no longer in the directory is loaded within
    // a day. Like age-off it is cumulative: a day it is dropped (it waited behind a long load) is caught up the next.
    this.fullLoadSchedule = new scheduler.Schedule(this, 'FullLoadSchedule', {
      schedule: scheduler.ScheduleExpression.expression(config.schedules.fullLoad),
      description: `cyberactive ${config.stage}: warehouse load of every Parquet file (the safety net of the recent loads)`,
      target: new targets.LambdaInvoke(fn, {
        input: scheduler.ScheduleTargetInput.fromObject(FULL_LOAD_SCHEDULE_INPUT),
        deadLetterQueue: this.scheduleDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.minutes(15),
      }),
    });

    // Age-off is cumulative (it removes whatever is older than the retention), so a day it does not run (the
    // invocation waited behind a long load and was dropped) is caught up by the next.
    this.ageOffSchedule = new scheduler.Schedule(this, 'AgeOffSchedule', {
      schedule: scheduler.ScheduleExpression.expression(config.schedules.ageOff),
      description: `cyberactive ${config.stage}: removes warehouse rows older than each tenant's retention`,
      target: new targets.LambdaInvoke(fn, {
        input: scheduler.ScheduleTargetInput.fromObject(AGE_OFF_SCHEDULE_INPUT),
        deadLetterQueue: this.scheduleDeadLetterQueue,
        retryAttempts: 3,
        maxEventAge: Duration.minutes(15),
      }),
    });

    this.acknowledgeSchedulerRole();

    this.alarmTopic = new AlarmTopic(this, 'Alarms', {
      email: config.alarmEmail,
      description: `cyberactive ${config.stage} warehouse alarms`,
      keyPendingWindow: Duration.days(config.destroyable ? 7 : 30),
    });
    const loaderMetric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        // Powertools adds the service as the one default dimension.
        dimensionsMap: { service: LOADER_SERVICE },
        statistic,
        period: FRESHNESS_PERIOD,
      });
    this.loaderErrorsAlarm = this.alarmTopic.notify(
      new cloudwatch.Alarm(this, 'LoaderErrorsAlarm', {
        alarmDescription:
          'Loader invocations failed (load error, crash, time-out); nothing of a failed run is kept. See the logs.',
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.loadFailuresAlarm = this.alarmTopic.notify(
      new cloudwatch.Alarm(this, 'LoadFailuresAlarm', {
        alarmDescription: 'The loader reported failed loads (LoadFailures): files rejected or batches rolled back.',
        metric: loaderMetric(MetricName.LoadFailures, 'Sum'),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    // The loader reports freshness only after a successful run, so a period without a datapoint is a period without
    // a successful run: the alarm goes off when every period of the window breaches, i.e. no successful run (or only
    // stale ones) for freshnessAlarmSeconds.
    const freshnessPeriods = Math.ceil(w.freshnessAlarmSeconds / FRESHNESS_PERIOD.toSeconds());
    this.freshnessAlarm = this.alarmTopic.notify(
      new cloudwatch.Alarm(this, 'WarehouseFreshnessAlarm', {
        alarmDescription: `The warehouse is stale: no successful loader run for ${w.freshnessAlarmSeconds} s, or WarehouseFreshnessSeconds ≥ ${w.freshnessAlarmSeconds}.`,
        metric: loaderMetric(MetricName.WarehouseFreshnessSeconds, 'Maximum'),
        threshold: w.freshnessAlarmSeconds,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: freshnessPeriods,
        datapointsToAlarm: freshnessPeriods,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );
    this.scheduleDeadLetterAlarm = this.alarmTopic.notify(
      new cloudwatch.Alarm(this, 'LoaderScheduleDeadLetterAlarm', {
        alarmDescription:
          'The scheduler could not start the loader (messages in the schedule DLQ): check the schedule role and the function.',
        metric: this.scheduleDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: Duration.minutes(5),
          statistic: 'Maximum',
        }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    new CfnOutput(this, 'WorkgroupNameOutput', {
      description: 'Redshift Serverless workgroup (Data API WorkgroupName, Query Editor v2)',
      value: this.warehouse.workgroupName,
    });
    new CfnOutput(this, 'DatabaseNameOutput', {
      description: 'Database holding the TAHOE tables',
      value: this.warehouse.databaseName,
    });
    new CfnOutput(this, 'AdminSecretNameOutput', {
      description: 'Secrets Manager secret of the admin user (managed and rotated by Redshift)',
      value: this.warehouse.adminSecretName,
    });
  }

  /**
   * A Redshift Serverless workgroup needs subnets in three Availability Zones, and an environment-agnostic stack
   * offers two by default. The first three of the region's zones, resolved at deployment (`Fn::GetAZs`); every
   * region where Redshift Serverless runs has at least three.
   */
  public override get availabilityZones(): string[] {
    return [0, 1, 2].map((i) => Fn.select(i, Fn.getAzs()));
  }

  /**
   * Attaches the function to the isolated subnets. PipelineFunction takes no VPC, so the attachment is set on the
   * function resource with the permissions Lambda needs to manage its network interfaces, scoped to these subnets and
   * security group where EC2 allows it (the managed AWSLambdaVPCAccessExecutionRole grants them on every resource).
   * https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html#configuration-vpc-permissions
   */
  private placeInVpc(fn: PipelineFunction): void {
    const subnetIds = this.network.subnetIds();
    (fn.node.defaultChild as lambda.CfnFunction).vpcConfig = {
      subnetIds,
      securityGroupIds: [this.network.loaderSecurityGroup.securityGroupId],
    };
    const ec2Arn = (resource: string, resourceName: string) =>
      this.formatArn({ service: 'ec2', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
    const interfaces = ec2Arn('network-interface', '*');
    fn.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcDescribe',
        actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets'],
        resources: ['*'],
      }),
    );
    fn.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcCreateInterfaces',
        actions: ['ec2:CreateNetworkInterface'],
        resources: [
          interfaces,
          ...subnetIds.map((id) => ec2Arn('subnet', id)),
          ec2Arn('security-group', this.network.loaderSecurityGroup.securityGroupId),
        ],
      }),
    );
    fn.executionRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'VpcManageInterfaces',
        actions: ['ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: [interfaces],
      }),
    );
    // The attachment must not outlive the subnets' endpoints it relies on.
    fn.node.addDependency(this.network);
  }

  /**
   * The schedule's target role is a CDK singleton of the stack. It may invoke the function and any of its versions or
   * aliases (`<function ARN>:*`), as CDK grants it; nothing else.
   */
  private acknowledgeSchedulerRole(): void {
    for (const child of this.node.children) {
      if (!child.node.id.startsWith('SchedulerRoleForTarget') || !(child instanceof iam.Role)) continue;
      acknowledgeRoleWildcards(child, [
        {
          finding: /^Resource::<LoaderFunction[0-9A-F]{8}\.Arn>:\*$/,
          reason:
            'Granted by the scheduler Lambda target: invoke the loader function and its versions or aliases (<function ARN>:*), no other function.',
        },
      ]);
    }
  }

  /**
   * What age-off and purge need (lambdas/warehouse/retention.ts), and nothing more:
   * - list the raw and quarantine buckets (a tenant purge lists the tenant's prefixes; the curated bucket is listed
   *   already). Without ListBucket S3 answers a HEAD of a missing key with 403 instead of 404, so it is not limited
   *   by prefix: HEAD requests carry no prefix to test.
   * - HEAD and delete: raw objects at a version (GetObject/GetObjectVersion for HEAD, DeleteObjectVersion: a delete
   *   without a version would leave the data behind a delete marker), quarantine files, Parquet files (HEAD is covered
   *   by the curated read grant). The bucket policies deny only PutObject without If-None-Match (create-only) and
   *   foreign encryption; deletes are other actions, so these grants are enough.
   * - create purge records under `purges/` in the manifests bucket (GetObject for the HEAD that settles a 409 on a
   *   create-only PUT, as for manifests).
   * - Scan the tenants table for the settings items only: every request must project to the settings attributes
   *   (never an API key item's hash), which the adapter does (DynamoTenantDirectory.list). The table's key is the data
   *   key, which the bucket and ledger grants already let the function decrypt with. The recent loads use the same
   *   Scan to learn which tenants' partitions to list.
   */
  private grantRetention(storage: StorageStack, fn: PipelineFunction): void {
    fn.addEnvironment(STORAGE_ENV.rawBucket, storage.rawBucket.bucketName);
    fn.addEnvironment(STORAGE_ENV.quarantineBucket, storage.quarantineBucket.bucketName);
    fn.addEnvironment(STORAGE_ENV.tenantsTable, storage.tenantsTable.tableName);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'RetentionList',
        actions: ['s3:ListBucket'],
        resources: [storage.rawBucket.bucketArn, storage.quarantineBucket.bucketArn],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PurgeRawVersions',
        actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:DeleteObject', 's3:DeleteObjectVersion'],
        resources: [storage.rawBucket.arnForObjects(`${KEY_PREFIXES.raw}*`)],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PurgeQuarantine',
        actions: ['s3:GetObject', 's3:DeleteObject'],
        resources: [storage.quarantineBucket.arnForObjects(`${KEY_PREFIXES.quarantine}*`)],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PurgeParquet',
        actions: ['s3:DeleteObject'],
        resources: [storage.curatedBucket.arnForObjects(`${KEY_PREFIXES.curated}*`)],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'HeadOwnPurgeRecords',
        actions: ['s3:GetObject'],
        resources: [storage.manifestsBucket.arnForObjects(`${PURGE_RECORDS_PREFIX}*`)],
      }),
    );
    storage.manifestsBucket.grantPut(fn, `${PURGE_RECORDS_PREFIX}*`);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ScanTenantSettings',
        actions: ['dynamodb:Scan'],
        resources: [storage.tenantsTable.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': [...TENANT_SETTINGS_ATTRIBUTES] },
          StringEquals: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    );
  }

  /**
   * Put loader manifests (`manifests/*`) and learn the bucket (`MANIFESTS_BUCKET`); no listing, no delete. GetObject
   * only because a create-only PUT answered `409 ConditionalRequestConflict` is settled with a HEAD, which S3
   * authorises as GetObject (lambdas/adapters/s3-object-store.ts).
   */
  private grantManifestsWrite(storage: StorageStack, fn: PipelineFunction): iam.Grant {
    fn.addEnvironment(STORAGE_ENV.manifestsBucket, storage.manifestsBucket.bucketName);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'HeadOwnManifests',
        actions: ['s3:GetObject'],
        resources: [storage.manifestsBucket.arnForObjects(`${KEY_PREFIXES.manifests}*`)],
      }),
    );
    return storage.manifestsBucket.grantPut(fn, `${KEY_PREFIXES.manifests}*`);
  }
}
