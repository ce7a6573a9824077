import { CfnResource, Duration, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as eventsources from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type Config, VISIBILITY_TIMEOUT_FACTOR } from '../config';
import { AlarmTopic } from '../constructs/alarms';
import { PipelineFunction } from '../constructs/pipeline-function';
import { KEY_PREFIXES, type StorageStack } from './storage-stack';

/** Environment variables of the process function set from the stage configuration (not by a grant helper). */
export const PROCESS_ENV = {
  rowsPerPart: 'ROWS_PER_PART',
  maxRecordBytes: 'MAX_RECORD_BYTES',
  allowedTypetags: 'ALLOWED_TYPETAGS',
  maxAttempts: 'MAX_ATTEMPTS',
  leaseMs: 'LEASE_MS',
} as const;

/** Longest ledger lease of the process function; the core renews it every third of this while it works. */
export const MAX_PROCESS_LEASE_SECONDS = 120;

/**
 * The ledger lease of the process function: at most {@link MAX_PROCESS_LEASE_SECONDS}, and never longer than the
 * function may run. A crashed worker's message comes back after the visibility timeout (six function timeouts),
 * so its lease has always run out by then and the next delivery takes the object over instead of finding it busy.
 */
export function processLeaseMs(timeoutSeconds: number): number {
  return Math.min(MAX_PROCESS_LEASE_SECONDS, timeoutSeconds) * 1000;
}

/** The most attempts the ledger accepts as a limit (lambdas/ledger/invariants.ts). */
const LEDGER_MAX_ATTEMPTS = 100;

/**
 * Attempts the ledger allows on one object before recording it as ERROR: two rounds of deliveries (at most the
 * ledger's limit). An object that kills its worker every time (no error to catch) exhausts the first round into the
 * DLQ; a redrive gives it one more round — enough for an object whose failure was on our side and has been fixed —
 * after which it ends as ERROR instead of going round for ever.
 */
export function processMaxAttempts(maxReceiveCount: number): number {
  return Math.min(LEDGER_MAX_ATTEMPTS, 2 * maxReceiveCount);
}

/** Properties of the {@link ProcessingStack}. */
export interface ProcessingStackProps extends StackProps {
  /** The validated configuration of the stage. */
  readonly config: Config;
  /** The stage's stateful resources; every permission is granted through its helpers. */
  readonly storage: StorageStack;
}

/**
 * Delivers S3 notifications to an SSE-KMS queue. CDK's `SqsDestination` would grant S3 the key through a statement
 * conditioned on the bucket ARN; with the key and the bucket in the storage stack (the bucket encrypted with the
 * key) that closes a dependency cycle. Here the key statement is the one AWS documents for S3 notifications to
 * encrypted queues (https://docs.aws.amazon.com/AmazonS3/latest/userguide/ways-to-add-notification-config-to-bucket.html#step1-create-sqs-queue-for-notification),
 * and the queue policy stays scoped to the bucket and account.
 */
class EncryptedQueueDestination implements s3.IBucketNotificationDestination {
  constructor(
    private readonly queue: sqs.Queue,
    private readonly key: StorageStack['dataKey'],
  ) {}

  public bind(scope: Construct, bucket: s3.IBucket): s3.BucketNotificationDestinationConfig {
    this.queue.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'S3ObjectCreatedNotifications',
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['sqs:SendMessage'],
        resources: [this.queue.queueArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': bucket.bucketArn },
          StringEquals: { 'aws:SourceAccount': Stack.of(scope).account },
        },
      }),
    );
    this.key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'S3NotificationsToEncryptedQueues',
        principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
      }),
    );
    // S3 checks that it may send when the configuration is written: the queue and its policy come first.
    return { arn: this.queue.queueArn, type: s3.BucketNotificationDestinationType.QUEUE, dependencies: [this.queue] };
  }
}

/** SQS keeps messages at most 14 days; the DLQ keeps them that long so that an operator can redrive them. */
const MAX_MESSAGE_RETENTION = Duration.days(14);

/**
 * S3 `ObjectCreated:*` under `raw/` → SQS `raw-events` (+ DLQ) → the process function (DESIGN.md §1).
 *
 * Why a queue between S3 and Lambda: S3 delivers notifications at least once and may drop them into a failed
 * asynchronous invocation; a queue keeps every message until a worker reports it done, retries with the visibility
 * timeout as backoff, and keeps what keeps failing in a dead-letter queue for inspection and redrive.
 */
export class ProcessingStack extends Stack {
  /** `raw-events`: one message per created raw object (an S3 event notification body). */
  public readonly queue: sqs.Queue;
  /** Messages that failed `maxReceiveCount` deliveries. */
  public readonly deadLetterQueue: sqs.Queue;
  /** The process function. */
  public readonly processFunction: PipelineFunction;
  /** Where this stack's alarms notify. */
  public readonly alarmTopic: AlarmTopic;
  /** Messages in the DLQ: anything there needs an operator. */
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  /** The oldest queued message is older than the configured bound: processing is stuck or too slow. */
  public readonly queueAgeAlarm: cloudwatch.Alarm;
  /** Invocations that failed as a whole (a crash or time-out, not a single bad object). */
  public readonly functionErrorsAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ProcessingStackProps) {
    super(scope, id, props);
    const { config, storage } = props;
    const p = config.processing;
    const timeout = Duration.seconds(p.timeoutSeconds);

    this.deadLetterQueue = new sqs.Queue(this, 'RawEventsDeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: storage.dataKey,
      enforceSSL: true,
      retentionPeriod: MAX_MESSAGE_RETENTION,
    });
    this.queue = new sqs.Queue(this, 'RawEventsQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: storage.dataKey,
      enforceSSL: true,
      retentionPeriod: MAX_MESSAGE_RETENTION,
      visibilityTimeout: Duration.seconds(p.timeoutSeconds * VISIBILITY_TIMEOUT_FACTOR),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: p.maxReceiveCount },
    });
    // SQS calls KMS with the caller's credentials for SSE queues (kms:ViaService = sqs); the data key only admits
    // use through S3 and DynamoDB, so consumers of these queues need this statement as well as their IAM grant.
    // https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
    storage.dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'UseThroughSqs',
        principals: [new iam.AccountRootPrincipal()],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: {
          StringEquals: {
            'kms:CallerAccount': storage.account,
            'kms:ViaService': `sqs.${storage.region}.amazonaws.com`,
          },
        },
      }),
    );

    // The raw bucket lives in the storage stack. Subscribing the queue through a reference (not the bucket object)
    // keeps the dependency one-way: the notification is a custom resource of this stack, which adds its own
    // configuration to the bucket and leaves any other configuration in place.
    const rawBucket = s3.Bucket.fromBucketAttributes(this, 'RawBucketRef', {
      bucketArn: storage.rawBucket.bucketArn,
      bucketName: storage.rawBucket.bucketName,
    });
    rawBucket.addEventNotification(
      s3.EventType.OBJECT_CREATED,
      new EncryptedQueueDestination(this.queue, storage.dataKey),
      { prefix: KEY_PREFIXES.raw },
    );
    this.acknowledgeNotificationsHandler();

    this.processFunction = new PipelineFunction(this, 'ProcessFunction', {
      entry: 'lambdas/handlers/process.ts',
      serviceName: 'process',
      description: `cyberactive ${config.stage}: raw object → TAHOE Parquet, quarantine and ledger`,
      memoryMb: p.memoryMb,
      timeout,
      // Parts and the quarantine file are staged in /tmp until the envelope authenticates (about 1.9 × the
      // plaintext), and the heap is capped so that a large file is collected rather than hitting the memory limit.
      ephemeralStorageMb: 10_240,
      heapShareOfMemory: 0.6,
      logRetentionDays: config.retention.logDays,
      environment: {
        [PROCESS_ENV.rowsPerPart]: String(p.rowsPerPart),
        [PROCESS_ENV.maxRecordBytes]: String(p.maxRecordBytes),
        [PROCESS_ENV.allowedTypetags]: config.allowedTypetags.join(','),
        [PROCESS_ENV.maxAttempts]: String(processMaxAttempts(p.maxReceiveCount)),
        [PROCESS_ENV.leaseMs]: String(processLeaseMs(p.timeoutSeconds)),
      },
    });
    const fn = this.processFunction;
    storage.grantRawRead(fn);
    storage.grantTenantsRead(fn);
    storage.grantCuratedWrite(fn);
    storage.grantQuarantineWrite(fn);
    storage.grantLedgerReadWrite(fn);
    storage.grantPutEvents(fn);
    storage.grantEnvelopeUnwrap(fn);
    fn.acknowledgeWildcardPermissions([
      {
        finding: /^Resource::\*$/,
        reason:
          'X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; tracing needs Resource "*" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html).',
      },
      {
        finding: /^Action::s3:(GetObject|GetBucket|List|Abort)\*$/,
        reason:
          'Action groups of the StorageStack grant helpers (read an object and its versions, list, abort a multipart upload); each is limited to one bucket and one key prefix.',
      },
      {
        finding: /^Action::kms:(GenerateDataKey|ReEncrypt)\*$/,
        reason:
          'SSE-KMS use of the data key that bucket and queue grants imply; limited to that one key, whose key policy admits use only through S3, DynamoDB and SQS.',
      },
      {
        finding: /^Resource::.+\/(raw|tahoe|quarantine)\/\*$/,
        reason:
          'Object keys are only known per message (raw) or per output (tahoe, quarantine); access is scoped to the one key prefix the process step reads or writes.',
      },
      {
        finding: /^Resource::.+\/index\/\*$/,
        reason:
          "Read access that the ledger and tenants grant helpers give to their tables' indexes (ledger: byTenantReceivedAt, bySha256; tenants: byKeyHash); DynamoDB names index ARNs under the table ARN.",
      },
    ]);

    fn.addEventSource(
      new eventsources.SqsEventSource(this.queue, {
        batchSize: p.batchSize,
        maxConcurrency: p.maxConcurrency,
        // Each failed message is retried on its own; the others of the batch are deleted.
        // https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
        reportBatchItemFailures: true,
      }),
    );

    this.alarmTopic = new AlarmTopic(this, 'Alarms', {
      email: config.alarmEmail,
      description: `cyberactive ${config.stage} processing alarms`,
      keyPendingWindow: Duration.days(config.destroyable ? 7 : 30),
    });
    const minute = Duration.minutes(1);
    this.deadLetterAlarm = this.alarmTopic.notify(
      new cloudwatch.Alarm(this, 'DeadLetterQueueDepthAlarm', {
        alarmDescription: `Messages in the raw-events DLQ: objects failed ${p.maxReceiveCount} times. Inspect, fix, redrive.`,
        metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute, statistic: 'Maximum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.queueAgeAlarm = this.alarmTopic.notify(
      new cloudwatch.Alarm(this, 'QueueAgeAlarm', {
        alarmDescription: `The oldest raw-events message is older than ${p.queueAgeAlarmSeconds} s: processing is stuck or cannot keep up.`,
        metric: this.queue.metricApproximateAgeOfOldestMessage({ period: minute, statistic: 'Maximum' }),
        threshold: p.queueAgeAlarmSeconds,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 5,
        datapointsToAlarm: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    this.functionErrorsAlarm = this.alarmTopic.notify(
      new cloudwatch.Alarm(this, 'FunctionErrorsAlarm', {
        alarmDescription: 'Process invocations failed as a whole (crash, time-out or out of memory); see the logs.',
        metric: fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
        threshold: 0,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  /**
   * The notification configuration is written by a CDK-provided custom resource (one handler function per stack).
   * Its role carries the AWS managed basic-execution policy, which CDK does not let us replace.
   */
  private acknowledgeNotificationsHandler(): void {
    for (const child of this.node.children) {
      if (!child.node.id.startsWith('BucketNotificationsHandler')) continue;
      const role = child.node.tryFindChild('Role')?.node.defaultChild;
      if (role instanceof CfnResource) {
        Validations.of(role).acknowledge({
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason:
            'Role of the CDK-provided handler that writes the bucket notification configuration at deployment; CDK fixes its policies, and the function runs only during deployments.',
        });
      }
    }
  }
}
