import { z } from 'zod';
import { ConfigError } from '../lambdas/shared/errors';
import { MAX_RECENT_DAYS } from '../lambdas/warehouse/loader';

/**
 * Typed, validated deployment configuration.
 *
 * Each stage is an entry of the `cyberactive:stages` context object in cdk.json; `-c stage=<name>` picks one
 * (default `dev`), `-c stage=all` builds every stage. Every value is checked at synth time, so a bad value stops
 * `cdk synth` with a message that names the stage, the key and the value instead of failing half-way through a
 * CloudFormation deployment.
 */

export const STAGES_CONTEXT_KEY = 'cyberactive:stages';
export const STAGE_CONTEXT_KEY = 'stage';
export const DEFAULT_STAGE = 'dev';
export const ALL_STAGES = 'all';

/** Stages whose data must outlive a `cdk destroy`: they can never be destroyable. */
export const PRODUCTION_STAGES: readonly string[] = ['prod'];

/** The largest object a single S3 PutObject accepts (a presigned PUT cannot be multipart). */
export const MAX_SINGLE_PUT_BYTES = 5 * 1024 ** 3;

/** Stage names end up in stack names (`Cyberactive-<Stage>-Storage`), so they stay short and plain. */
const STAGE_NAME = /^[a-z][a-z0-9]{0,15}$/;

/** Typetags become TAHOE sub_types, S3 key segments and SQL values: same grammar as the ingest side uses. */
const TYPETAG = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const SUPPORTED_TYPETAGS = ['cowrie', 'unr_honeypot', 'sighting', 'email', 'openphish_feed', 'phishtank_feed'];

const positiveInt = () =>
  z.int({ error: 'must be a positive integer' }).min(1, { error: 'must be a positive integer' });

const days = (fallback: number) => positiveInt().default(fallback);

/** Whole numbers in [min, max], with the range in the message. */
const intRange = (min: number, max: number) =>
  z
    .int({ error: `must be an integer from ${min} to ${max}` })
    .min(min, { error: `must be an integer from ${min} to ${max}` })
    .max(max, { error: `must be an integer from ${min} to ${max}` });

/**
 * The retention periods CloudWatch Logs accepts, in days
 * (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
 */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

/** The largest visibility timeout SQS accepts (12 hours). */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 43_200;

/**
 * An SQS queue's visibility timeout must be at least six times the function's timeout, so that a message is not
 * handed to a second invocation while the first still works on it, throttling retries included
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
 */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/**
 * EventBridge Scheduler accepts `rate(value unit)` and `cron(6 fields)` for recurring schedules
 * (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html). `at()` is one-time and rejected.
 */
export function scheduleProblem(expression: string): string | undefined {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const value = Number(rate[1]);
    const unit = rate[2] ?? '';
    if (value < 1) return 'rate value must be at least 1';
    if ((value === 1) !== !unit.endsWith('s')) {
      return `use the ${value === 1 ? 'singular' : 'plural'} unit with a rate of ${value}`;
    }
    return undefined;
  }
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) {
    const fields = (cron[1] ?? '').trim().split(/\s+/);
    if (fields.length !== 6) return 'cron() needs 6 fields: minutes hours day-of-month month day-of-week year';
    if (!fields.every((f) => /^[0-9A-Za-z*?,/#-]+$/.test(f))) return 'cron() field holds an unexpected character';
    // Scheduler refuses a value in both day fields: one of them must be '?'.
    const dayOfMonth = fields[2];
    const dayOfWeek = fields[4];
    if ((dayOfMonth === '?') === (dayOfWeek === '?')) return "exactly one of day-of-month and day-of-week must be '?'";
    return undefined;
  }
  return 'must be a rate(...) or cron(...) expression';
}

const schedule = (fallback: string) =>
  z
    .string({ error: 'must be a rate(...) or cron(...) expression' })
    .default(fallback)
    .superRefine((value, ctx) => {
      const problem = scheduleProblem(value);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });

const httpsUrl = z.string({ error: 'must be an https URL' }).superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an https URL' });
    return;
  }
  if (url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must be an https URL' });
  else if (url.username || url.password) ctx.addIssue({ code: 'custom', message: 'must not embed credentials' });
});

function unique<T>(label: string) {
  return (values: readonly T[], ctx: z.RefinementCtx) => {
    values.forEach((v, i) => {
      if (values.indexOf(v) !== i) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate ${label}` });
    });
  };
}

const retentionSchema = z.strictObject({
  /** Raw uploads (current versions). */
  rawDays: days(400),
  /** Parquet output. */
  curatedDays: days(400),
  /** Quarantined records with their reasons. */
  quarantineDays: days(90),
  /** Evidence: RFC 3161 tokens and inclusion proofs. */
  proofsDays: days(3650),
  /** Loader manifests. */
  manifestsDays: days(30),
  /** S3 server access logs. */
  accessLogsDays: days(365),
  /** Previous versions in versioned buckets, counted from the day they became noncurrent. */
  noncurrentVersionDays: days(30),
  /** Parts of multipart uploads that were never completed. */
  incompleteUploadDays: days(7),
  /** The pipeline event bus archive (replay window). */
  eventArchiveDays: days(90),
  /** Lambda log groups. */
  logDays: z
    .number({ error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}` })
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(90),
});

/** The process function and its queue (S3 → SQS raw-events → process λ). */
const processingSchema = z.strictObject({
  /** Function memory; 1769 MB is where Lambda gives a full vCPU. */
  memoryMb: intRange(128, 10_240).default(1769),
  /** Function timeout. The queue's visibility timeout is six times this. */
  timeoutSeconds: intRange(1, 900).default(900),
  /**
   * Messages per invocation; each names one raw object that can take minutes. Above 10 SQS needs a batching
   * window, which only delays single large files, so 10 is the bound.
   */
  batchSize: intRange(1, 10).default(1),
  /**
   * Upper bound of concurrent invocations. The SQS event source's maximum concurrency accepts 2–1000
   * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html).
   * @default 10
   */
  maxConcurrency: intRange(2, 1000).default(10),
  /** Deliveries of a message before it moves to the dead-letter queue. */
  maxReceiveCount: intRange(1, 1000).default(5),
  /** Rows per Parquet part file. */
  rowsPerPart: intRange(1, 10_000_000).default(100_000),
  /** Longest record accepted; longer ones are quarantined (DESIGN.md §3.5). */
  maxRecordBytes: intRange(1, 256 * 1024 ** 2).default(1024 ** 2),
  /** Age of the oldest queued message that raises the queue-age alarm. */
  queueAgeAlarmSeconds: intRange(60, 14 * 86_400).default(3600),
});

/**
 * Redshift Serverless base capacity, in RPUs: 8 to 512 in steps of 8
 * (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-capacity.html).
 */
export const WAREHOUSE_RPU = { min: 8, max: 512, step: 8 } as const;

/**
 * Database and user names become SQL identifiers and Data API request fields: lower-case letters, digits and `_`,
 * starting with a letter, at most 63 characters (Redshift's identifier limit is 127 bytes; shorter keeps them plain).
 * https://docs.aws.amazon.com/redshift/latest/dg/r_names.html
 */
const SQL_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * Names Redshift refuses for the admin user or the database (reserved words that would pass {@link SQL_NAME}), plus
 * the system users. Not exhaustive: CloudFormation still has the last word on deployment.
 * https://docs.aws.amazon.com/redshift/latest/dg/r_pg_keywords.html
 */
const RESERVED_SQL_NAMES = [
  'rdsdb',
  'public',
  'user',
  'select',
  'table',
  'default',
  'all',
  'padb_harvest',
  'template0',
  'template1',
];

const sqlName = (fallback: string) =>
  z
    .string({ error: 'must be a lower-case SQL name' })
    .regex(SQL_NAME, { error: 'must be a lower-case SQL name: a letter, then letters, digits or _ (at most 63)' })
    .refine((name) => !RESERVED_SQL_NAMES.includes(name), { error: 'is a reserved name in Redshift' })
    .default(fallback);

/** The Redshift Serverless warehouse and its loader (DESIGN.md §3.8). */
const warehouseSchema = z.strictObject({
  /** Base capacity of the workgroup in RPUs (8–512, a multiple of 8): what a query gets before scaling. */
  baseCapacity: intRange(WAREHOUSE_RPU.min, WAREHOUSE_RPU.max)
    .refine((rpu) => rpu % WAREHOUSE_RPU.step === 0, { error: `must be a multiple of ${WAREHOUSE_RPU.step}` })
    .default(WAREHOUSE_RPU.min),
  /** The database the pipeline's tables live in (created with the namespace). */
  databaseName: sqlName('cyberactive'),
  /** The namespace's admin user; its password is generated and rotated by Redshift in Secrets Manager. */
  adminUsername: sqlName('cyberactive_admin'),
  /** Loader function memory. It reads only Parquet footers (Redshift reads the data from S3): little is needed. */
  loaderMemoryMb: intRange(128, 10_240).default(512),
  /** Loader function timeout; one run waits for its load to commit, so this bounds the largest batch. */
  loaderTimeoutSeconds: intRange(60, 900).default(900),
  /**
   * How long the warehouse may go without a successful loader run before the freshness alarm goes off. At most a
   * day: CloudWatch evaluates an alarm over at most one day of 5-minute periods.
   */
  freshnessAlarmSeconds: intRange(300, 86_400).default(3600),
  /**
   * Days before today that the scheduled load lists besides today (UTC partitions, per tenant). Files of older days
   * (a late redrive, a reprocess) wait for the daily full load (`schedules.fullLoad`). At least 1: an upload received
   * just before midnight is often written just after it, into yesterday's partition.
   */
  loadRecentDays: intRange(1, MAX_RECENT_DAYS).default(2),
});

const objectLockSchema = z.strictObject({
  mode: z.enum(['GOVERNANCE', 'COMPLIANCE'], { error: 'must be GOVERNANCE or COMPLIANCE' }),
  days: positiveInt(),
});

function stageSchema(stage: string) {
  return z
    .strictObject({
      /** Dev-style stage: resources are deleted with the stack and the stack has no termination protection. */
      destroyable: z.boolean({ error: 'must be true or false' }).default(false),
      retention: retentionSchema.prefault({}),
      /** Typetags this deployment routes; tenants are allowed a subset. */
      allowedTypetags: z
        .array(z.string({ error: 'must be a typetag' }).regex(TYPETAG, { error: 'must be an identifier (typetag)' }), {
          error: 'must be a list of typetags',
        })
        .min(1, { error: 'must list at least one typetag' })
        .default(() => [...SUPPORTED_TYPETAGS])
        .superRefine(unique('typetag')),
      /** RFC 3161 time-stamping authorities, tried in order. */
      tsaUrls: z
        .array(httpsUrl, { error: 'must be a list of https URLs' })
        .min(1, { error: 'must list at least one TSA URL' })
        .superRefine(unique('TSA URL')),
      alarmEmail: z.email({ error: 'must be an e-mail address' }),
      maxUploadBytes: positiveInt()
        .max(MAX_SINGLE_PUT_BYTES, {
          error: `must be at most ${MAX_SINGLE_PUT_BYTES} (5 GiB, the largest single PUT that S3 accepts)`,
        })
        .default(MAX_SINGLE_PUT_BYTES),
      schedules: z
        .strictObject({
          notary: schedule('rate(15 minutes)'),
          loader: schedule('rate(5 minutes)'),
          /** Warehouse age-off (each tenant's retention): daily at 03:00 UTC. */
          ageOff: schedule('cron(0 3 * * ? *)'),
          /** Warehouse load that lists every Parquet file (the scheduled loads list recent days): daily at 02:30 UTC. */
          fullLoad: schedule('cron(30 2 * * ? *)'),
        })
        .prefault({}),
      /** Object Lock default retention on the proofs bucket. @default - no Object Lock */
      proofsObjectLock: objectLockSchema.optional(),
      processing: processingSchema.prefault({}),
      warehouse: warehouseSchema.prefault({}),
    })
    .superRefine((cfg, ctx) => {
      if (cfg.destroyable && PRODUCTION_STAGES.includes(stage)) {
        ctx.addIssue({ code: 'custom', path: ['destroyable'], message: `must be false for the ${stage} stage` });
      }
      if (cfg.destroyable && cfg.proofsObjectLock) {
        ctx.addIssue({
          code: 'custom',
          path: ['destroyable'],
          message: 'must be false when proofsObjectLock is set (locked objects cannot be deleted)',
        });
      }
      if (cfg.proofsObjectLock && cfg.proofsObjectLock.days > cfg.retention.proofsDays) {
        ctx.addIssue({
          code: 'custom',
          path: ['proofsObjectLock', 'days'],
          message: `must not exceed retention.proofsDays (${cfg.retention.proofsDays})`,
        });
      }
    });
}

export type StageSettings = z.output<ReturnType<typeof stageSchema>>;

/** The validated configuration of one stage, shared by every stack of that stage. */
export type Config = Readonly<StageSettings & { stage: string }>;

function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, part) => {
    if (typeof part === 'number') return `${out}[${part}]`;
    return out === '' ? String(part) : `${out}.${String(part)}`;
  }, '');
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function show(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function describeIssue(stage: string, input: unknown, issue: z.core.$ZodIssue): string[] {
  const at = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `stage ${stage}: ${at ? `${at}.` : ''}${key}: unknown key`);
  }
  const value = valueAt(input, issue.path);
  if (value === undefined) return [`stage ${stage}: ${at}: is required`];
  return [`stage ${stage}: ${at} = ${show(value)}: ${issue.message}`];
}

/** Validates one stage's settings. Throws a ConfigError listing every problem, one per line. */
export function parseStageConfig(stage: string, raw: unknown): Config {
  if (!STAGE_NAME.test(stage) || stage === ALL_STAGES) {
    throw new ConfigError(`stage ${show(stage)}: stage names must match ${STAGE_NAME} and not be "${ALL_STAGES}"`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`stage ${stage}: settings must be an object, got ${show(raw)}`);
  }
  const parsed = stageSchema(stage).safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.flatMap((issue) => describeIssue(stage, raw, issue));
    throw new ConfigError(lines.join('\n'));
  }
  return { stage, ...parsed.data };
}

/**
 * Resolves the stage selector (`dev`, `prod`, …, or `all`) against the `cyberactive:stages` context object and
 * returns the validated configuration of each selected stage. Problems of every selected stage are reported together.
 */
export function loadConfigs(stages: unknown, selector: unknown = DEFAULT_STAGE): Config[] {
  if (stages === null || typeof stages !== 'object' || Array.isArray(stages) || Object.keys(stages).length === 0) {
    throw new ConfigError(`context ${STAGES_CONTEXT_KEY} must be an object with one entry per stage (see cdk.json)`);
  }
  const known = Object.keys(stages);
  const wanted = selector;
  if (typeof wanted !== 'string' || (wanted !== ALL_STAGES && !known.includes(wanted))) {
    throw new ConfigError(`unknown stage ${show(wanted)}: expected one of ${[...known, ALL_STAGES].join(', ')}`);
  }
  const names = wanted === ALL_STAGES ? known : [wanted];
  const configs: Config[] = [];
  const problems: string[] = [];
  for (const name of names) {
    try {
      configs.push(parseStageConfig(name, (stages as Record<string, unknown>)[name]));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  return configs;
}
