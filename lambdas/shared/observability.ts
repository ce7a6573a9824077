import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** CloudWatch namespace of every metric the pipeline emits (DESIGN.md §3.10). */
export const METRICS_NAMESPACE = 'Cyberactive';

/**
 * The metric names of DESIGN.md §3.10, as past-tense counters. Tenants go into logs, never into metric dimensions
 * (unbounded cardinality would multiply the CloudWatch bill and make alarms meaningless).
 */
export const MetricName = {
  UploadsPresigned: 'UploadsPresigned',
  ObjectsProcessed: 'ObjectsProcessed',
  RecordsParsed: 'RecordsParsed',
  RecordsQuarantined: 'RecordsQuarantined',
  ObjectsFailed: 'ObjectsFailed',
  ProcessingLagSeconds: 'ProcessingLagSeconds',
  RowsLoaded: 'RowsLoaded',
  LoadFailures: 'LoadFailures',
  WarehouseFreshnessSeconds: 'WarehouseFreshnessSeconds',
  ProofsIssued: 'ProofsIssued',
  TsaFailures: 'TsaFailures',
} as const;
export type MetricName = (typeof MetricName)[keyof typeof MetricName];

export interface Observability {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tracer: Tracer;
}

/**
 * Logger, metrics and tracer for one function, built once per container. Handlers pass them to cores as ports;
 * cores never build their own. `enabled: false` (local runtime, tests) keeps the same API without X-Ray or EMF
 * output.
 */
export function makeObservability(serviceName: string, options: { enabled?: boolean; logLevel?: string } = {}) {
  const enabled = options.enabled ?? true;
  const logger = new Logger({
    serviceName,
    logLevel: (options.logLevel ?? 'INFO') as 'INFO',
  });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName });
  if (!enabled) metrics.setThrowOnEmptyMetrics(false);
  const tracer = new Tracer({ serviceName, enabled });
  return { logger, metrics, tracer } satisfies Observability;
}

/**
 * Keys that must never reach a log line: decrypted payloads, API keys, presigned URLs (DESIGN.md §3.10).
 * Used by handlers to scrub objects before logging them.
 */
const SECRET_KEYS = /^(authorization|x-api-key|api[-_]?key|url|presigned[-_]?url|plaintext|payload|body|password)$/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}
