/**
 * The process handler, driven through its exported factory with SQS events as Lambda delivers them (S3 notification
 * bodies included) and local parts for the core's dependencies: which messages come back as batch item failures,
 * what is logged and counted, and, with the real core, that an uploaded object ends PROCESSED exactly once.
 */
import './process-env';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { FsObjectStore } from '../../../lambdas/adapters/fs-object-store';
import { MemoryEventPublisher } from '../../../lambdas/adapters/local-event-publisher';
import { LocalKeyUnwrapper, localKeyArn } from '../../../lambdas/adapters/local-key-unwrapper';
import { LocalLedger } from '../../../lambdas/adapters/local-ledger';
import { MemoryTenantDirectory } from '../../../lambdas/adapters/local-tenant-directory';
import { sealEnvelope } from '../../../lambdas/envelope/envelope';
import {
  makeProcessDeps,
  makeProcessHandler,
  type ProcessHandlerDeps,
  processEnvSchema,
} from '../../../lambdas/handlers/process';
import type { LedgerItem, ObjectRef } from '../../../lambdas/ledger/model';
import type { ProcessDeps } from '../../../lambdas/process/ports';
import type { ProcessCore } from '../../../lambdas/process/s3-events';
import { loadEnv } from '../../../lambdas/shared/env';
import { ConfigError, PermanentError, TransientError } from '../../../lambdas/shared/errors';
import { makeObservability } from '../../../lambdas/shared/observability';
import { rawKey } from '../../../lambdas/shared/s3-keys';
import { COUNTS, sha, success } from '../ledger/fixtures';
import { PROCESS_TEST_ENV } from './process-env';
import { ENCODED_KEY, KEY, s3Record, TEST_EVENT } from './s3-event-fixtures';

const RAW = 'raw-bucket';
const NOW = new Date('2026-11-22T09:16:03.123Z');
const EVENT_TIME = new Date('2026-11-22T09:15:03.123Z');
const ORGID = sha('org:acme');

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY_ARN = localKeyArn(publicKey);

function sqsRecord(body: string, messageId: string = randomUUID()): SQSRecord {
  return {
    messageId,
    receiptHandle: `AQEB${messageId}`,
    body,
    attributes: {
      ApproximateReceiveCount: '1',
      SentTimestamp: '1795339503123',
      SenderId: 'AIDAIENQZJOLO23YVJ4VO',
      ApproximateFirstReceiveTimestamp: '1795339503200',
    },
    messageAttributes: {},
    md5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:raw-events',
    awsRegion: 'eu-west-1',
  };
}

const s3Body = (...records: object[]) => JSON.stringify({ Records: records });
const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

function lambdaContext(awsRequestId = 'req-1', remainingMs = 900_000): Context {
  return {
    awsRequestId,
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'cyberactive-dev-process',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:cyberactive-dev-process',
    memoryLimitInMB: '1769',
    logGroupName: '/aws/lambda/cyberactive-dev-process',
    logStreamName: '2026/11/22/[$LATEST]0123456789abcdef',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  attributes: Record<string, unknown>;
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'process-handler-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A handler over local parts, with its logs and metrics captured where Powertools would print them. */
function harness(core?: ProcessCore) {
  const observability = makeObservability('process', { enabled: false, logLevel: 'SILENT' });
  const logs: LogLine[] = [];
  for (const level of ['info', 'warn', 'error'] as const) {
    jest.spyOn(observability.logger, level).mockImplementation((message: unknown, ...extra: unknown[]) => {
      logs.push({ level, message: String(message), attributes: Object.assign({}, ...(extra as object[])) });
    });
  }
  const emitted: Record<string, unknown>[] = [];
  const { metrics } = observability;
  jest.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => {
    emitted.push(metrics.serializeMetrics() as unknown as Record<string, unknown>);
    metrics.clearMetrics();
    return metrics;
  });
  const tmpRoot = join(root, 'tmp');
  mkdirSync(tmpRoot);
  const deps: ProcessHandlerDeps['deps'] = {
    store: new FsObjectStore(join(root, 'objects')),
    ledger: LocalLedger.inMemory(),
    events: new MemoryEventPublisher(),
    tenants: new MemoryTenantDirectory([
      { tenant: 'acme', orgid: ORGID, typetags: ['cowrie'], envelope: 'esdk', retentionDays: 400 },
    ]),
    unwrapper: new LocalKeyUnwrapper([privateKey]),
    allowedKeyArns: [KEY_ARN],
    enabledTypetags: new Set(['cowrie']),
    buckets: { curated: 'curated-bucket', quarantine: 'quarantine-bucket' },
    limits: { rowsPerPart: 1000, maxRecordBytes: 64 * 1024, maxAttempts: 3, leaseMs: 60_000 },
    clock: () => NOW,
  };
  const handler = makeProcessHandler({ deps, observability, rawBucket: RAW, tmpRoot, ...(core ? { core } : {}) });
  return { handler, deps, logs, emitted, tmpRoot };
}

function ledgerItem(ref: ObjectRef, status: LedgerItem['status'] = 'PROCESSED'): LedgerItem {
  return {
    ref,
    status,
    tenant: 'acme',
    typetag: 'cowrie',
    size: 4242,
    receivedAt: EVENT_TIME,
    attempts: 1,
    outcome: status === 'QUARANTINED' ? 'BAD_DATA' : 'SUCCESS',
    reason: status === 'QUARANTINED' ? 'envelope authentication failed' : undefined,
    counts: COUNTS,
    createdAt: EVENT_TIME,
    updatedAt: NOW,
  };
}

/** A stand-in core over the real ledger: begin, then complete with a fixed result (or answer what begin says). */
const ledgerCore: ProcessCore = async (req, deps) => {
  const begun = await deps.ledger.begin(req.ref, {
    owner: deps.owner,
    now: deps.clock(),
    leaseMs: deps.limits.leaseMs,
    meta: { tenant: 'acme', typetag: 'cowrie', size: req.size ?? 0, receivedAt: req.eventTime ?? deps.clock() },
    maxAttempts: deps.limits.maxAttempts,
  });
  if (begun.kind === 'finished') return { status: 'duplicate', item: begun.item };
  if (begun.kind === 'busy') return { status: 'busy', leaseExpiresAt: begun.leaseExpiresAt };
  if (begun.kind === 'exhausted') throw new Error('exhausted');
  const item = await deps.ledger.complete(req.ref, deps.owner, success(sha(req.ref.versionId)), deps.clock());
  return { status: 'processed', item };
};

describe('process handler: messages in, batch item failures out', () => {
  test('decodes the key of a real S3 notification and gives the core the object, its version and event time', async () => {
    const seen: { req: Parameters<ProcessCore>[0]; deps: ProcessDeps; workDirExisted: boolean }[] = [];
    const { handler, tmpRoot } = harness(async (req, deps) => {
      seen.push({ req, deps, workDirExisted: existsSync(deps.workDir) });
      return { status: 'processed', item: ledgerItem(req.ref) };
    });
    const response = await handler(sqsEvent(sqsRecord(s3Body(s3Record()), 'msg-1')), lambdaContext('req-1'));
    expect(response).toEqual({ batchItemFailures: [] });
    expect(ENCODED_KEY).not.toBe(KEY);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.req).toMatchObject({
      ref: { bucket: RAW, key: KEY, versionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY' },
      size: 4242,
      eventTime: EVENT_TIME,
    });
    expect(seen[0]?.req.signal?.aborted).toBe(false);
    // One owner per attempt: the invocation's request id and the message id.
    expect(seen[0]?.deps.owner).toBe('req-1:msg-1');
    expect(seen[0]?.deps.limits).toEqual({
      rowsPerPart: 1000,
      maxRecordBytes: 64 * 1024,
      maxAttempts: 3,
      leaseMs: 60_000,
    });
    // A fresh work folder under the temporary folder, removed afterwards (/tmp outlives invocations).
    expect(seen[0]?.workDirExisted).toBe(true);
    expect(seen[0]?.deps.workDir.startsWith(tmpRoot)).toBe(true);
    expect(readdirSync(tmpRoot)).toEqual([]);
  });

  test('acknowledges the S3 test event without processing anything', async () => {
    const core = jest.fn<ReturnType<ProcessCore>, Parameters<ProcessCore>>();
    const { handler, logs } = harness(core);
    const response = await handler(sqsEvent(sqsRecord(JSON.stringify(TEST_EVENT), 'test-1')), lambdaContext());
    expect(response.batchItemFailures).toEqual([]);
    expect(core).not.toHaveBeenCalled();
    expect(logs).toContainEqual(expect.objectContaining({ level: 'info', message: 'S3 test event acknowledged' }));
  });

  test('acknowledges a malformed body, logs what is wrong without the body, and counts a failed object', async () => {
    const core = jest.fn<ReturnType<ProcessCore>, Parameters<ProcessCore>>();
    const { handler, logs, emitted } = harness(core);
    const secret = 'password=hunter2';
    const response = await handler(
      sqsEvent(
        sqsRecord(`not json ${secret}`, 'poison-1'),
        sqsRecord(JSON.stringify({ Records: [{ eventSource: 'aws:s3', note: secret }] }), 'poison-2'),
      ),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(core).not.toHaveBeenCalled();
    const errors = logs.filter((l) => l.level === 'error');
    expect(errors.map((l) => [l.message, l.attributes.messageId])).toEqual([
      ['malformed message acknowledged', 'poison-1'],
      ['malformed message acknowledged', 'poison-2'],
    ]);
    expect(errors[1]?.attributes.issues).toEqual(expect.arrayContaining([expect.stringContaining('Records.0.s3')]));
    expect(JSON.stringify(logs)).not.toContain('hunter2');
    expect(emitted).toHaveLength(1);
    expect(emitted[0]?.ObjectsFailed).toEqual([1, 1]);
  });

  test('processes both objects of a message; if one is busy the message comes back, and then the other is a duplicate', async () => {
    const { handler, deps, logs } = harness(ledgerCore);
    const busyRef = { bucket: RAW, key: KEY, versionId: 'v2' };
    // Another worker holds v2.
    await deps.ledger.begin(busyRef, {
      owner: 'other-worker',
      now: NOW,
      leaseMs: 60_000,
      meta: { tenant: 'acme', typetag: 'cowrie', size: 1, receivedAt: EVENT_TIME },
    });
    const message = sqsRecord(s3Body(s3Record({ versionId: 'v1' }), s3Record({ versionId: 'v2' })), 'two-objects');

    const first = await handler(sqsEvent(message), lambdaContext('req-1'));
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'two-objects' }]);
    expect((await deps.ledger.get({ ...busyRef, versionId: 'v1' }))?.status).toBe('PROCESSED');
    expect(logs).toContainEqual(
      expect.objectContaining({
        message: 'object held by another worker: message retried later',
        attributes: expect.objectContaining({ versionId: 'v2', leaseExpiresAt: '2026-11-22T09:17:03.123Z' }),
      }),
    );

    // The other worker finishes v2; SQS delivers the message again.
    await deps.ledger.complete(busyRef, 'other-worker', success(sha('v2')), NOW);
    logs.length = 0;
    const second = await handler(sqsEvent(message), lambdaContext('req-2'));
    expect(second.batchItemFailures).toEqual([]);
    expect(logs.filter((l) => l.message.startsWith('duplicate')).map((l) => l.attributes.versionId)).toEqual([
      'v1',
      'v2',
    ]);
  });

  const item = () => ledgerItem({ bucket: RAW, key: KEY, versionId: 'x' });
  const fates: { what: string; answer: () => ReturnType<ProcessCore>; fails: boolean; level: LogLine['level'] }[] = [
    { what: 'processed', answer: async () => ({ status: 'processed', item: item() }), fails: false, level: 'info' },
    {
      what: 'quarantined',
      answer: async () => ({ status: 'quarantined', item: { ...item(), status: 'QUARANTINED' } }),
      fails: false,
      level: 'warn',
    },
    { what: 'a duplicate', answer: async () => ({ status: 'duplicate', item: item() }), fails: false, level: 'info' },
    {
      what: 'refused for good (PermanentError)',
      answer: () => Promise.reject(new PermanentError('NOT_SUPPORTED', 'not a raw object key')),
      fails: false,
      level: 'warn',
    },
    {
      what: 'busy',
      answer: async () => ({ status: 'busy', leaseExpiresAt: new Date(NOW.getTime() + 60_000) }),
      fails: true,
      level: 'info',
    },
    {
      what: 'failing transiently',
      answer: () => Promise.reject(new TransientError('SlowDown')),
      fails: true,
      level: 'warn',
    },
    {
      what: 'failing on the deployment (ConfigError)',
      answer: () => Promise.reject(new ConfigError('AccessDenied on the curated bucket')),
      fails: true,
      level: 'error',
    },
    {
      what: 'failing unexpectedly',
      answer: () => Promise.reject(new TypeError('x is undefined')),
      fails: true,
      level: 'error',
    },
  ];

  test.each(fates)('object $what → batch item failure: $fails, logged at $level', async ({ answer, fails, level }) => {
    const { handler, logs } = harness(() => answer());
    const response = await handler(sqsEvent(sqsRecord(s3Body(s3Record()), 'm-1')), lambdaContext());
    expect(response.batchItemFailures).toEqual(fails ? [{ itemIdentifier: 'm-1' }] : []);
    const objectLogs = logs.filter((l) => l.attributes.key === KEY);
    expect(objectLogs).toHaveLength(1);
    expect(objectLogs[0]?.level).toBe(level);
    expect(objectLogs[0]?.attributes).toMatchObject({ tenant: 'acme', typetag: 'cowrie', messageId: 'm-1' });
  });

  test('in a batch, only the messages that must come back are reported', async () => {
    const { handler } = harness(async (req) => {
      if (req.ref.versionId === 'slow') throw new TransientError('throttled');
      if (req.ref.versionId === 'bad') throw new PermanentError('BAD_DATA', 'refused');
      return { status: 'processed', item: ledgerItem(req.ref) };
    });
    const response = await handler(
      sqsEvent(
        sqsRecord(s3Body(s3Record({ versionId: 'ok' })), 'ok'),
        sqsRecord(s3Body(s3Record({ versionId: 'slow' })), 'slow'),
        sqsRecord(s3Body(s3Record({ versionId: 'bad' })), 'bad'),
      ),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'slow' }]);
  });

  test('counts objects, records and lag without a tenant dimension', async () => {
    const { handler, emitted } = harness(async (req) => ({
      status: req.ref.versionId === 'q' ? 'quarantined' : 'processed',
      item: ledgerItem(req.ref, req.ref.versionId === 'q' ? 'QUARANTINED' : 'PROCESSED'),
    }));
    await handler(
      sqsEvent(sqsRecord(s3Body(s3Record({ versionId: 'p' }), s3Record({ versionId: 'q' })), 'm-1')),
      lambdaContext(),
    );
    expect(emitted).toHaveLength(1);
    const emf = emitted[0] as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    };
    expect(emf.ObjectsProcessed).toBe(1);
    expect(emf.ObjectsFailed).toBe(1);
    expect(emf.RecordsParsed).toEqual([COUNTS.raws, COUNTS.raws]);
    expect(emf.RecordsQuarantined).toEqual([COUNTS.quarantined, COUNTS.quarantined]);
    expect(emf.ProcessingLagSeconds).toEqual([60, 60]);
    expect(emf._aws.CloudWatchMetrics[0]?.Namespace).toBe('Cyberactive');
    expect(emf._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    expect(JSON.stringify(emf)).not.toContain('acme');
  });

  test('ignores records of other buckets and other event types', async () => {
    const core = jest.fn<ReturnType<ProcessCore>, Parameters<ProcessCore>>();
    const { handler, logs } = harness(core);
    const response = await handler(
      sqsEvent(
        sqsRecord(
          s3Body(s3Record({ bucket: 'another-bucket' }), s3Record({ eventName: 'ObjectRemoved:DeleteMarkerCreated' })),
        ),
      ),
      lambdaContext(),
    );
    expect(response.batchItemFailures).toEqual([]);
    expect(core).not.toHaveBeenCalled();
    expect(logs.filter((l) => l.message === 'S3 event record ignored')).toHaveLength(2);
  });

  test('stops the core shortly before the invocation would time out, so the message is retried, not the batch', async () => {
    const { handler } = harness(
      (req) =>
        new Promise((_resolve, reject) => {
          req.signal?.addEventListener('abort', () => reject(new TransientError('processing aborted by the caller')));
        }),
    );
    const response = await handler(sqsEvent(sqsRecord(s3Body(s3Record()), 'late')), lambdaContext('req-1', 50));
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'late' }]);
  });
});

describe('process handler: environment', () => {
  test('parses the environment the stack sets into the core limits and the envelope allow-list', () => {
    const env = loadEnv(processEnvSchema, {
      ...PROCESS_TEST_ENV,
      ENVELOPE_KEY_ARN: `${PROCESS_TEST_ENV.ENVELOPE_KEY_ARN},arn:aws:kms:eu-west-1:123456789012:key/previous`,
    });
    const deps = makeProcessDeps(env, makeObservability('process', { enabled: false }));
    expect(deps.rawBucket).toBe('raw-bucket');
    expect(deps.deps.allowedKeyArns).toEqual([
      PROCESS_TEST_ENV.ENVELOPE_KEY_ARN,
      'arn:aws:kms:eu-west-1:123456789012:key/previous',
    ]);
    expect([...deps.deps.enabledTypetags]).toContain('phishtank_feed');
    expect(deps.deps.buckets).toEqual({ curated: 'curated-bucket', quarantine: 'quarantine-bucket' });
    expect(deps.deps.limits).toEqual({
      rowsPerPart: 100_000,
      maxRecordBytes: 1048576,
      maxAttempts: 10,
      leaseMs: 120_000,
    });
  });

  test.each([
    ['TENANTS_TABLE', undefined, 'TENANTS_TABLE missing'],
    ['ENVELOPE_KEY_ARN', 'arn:aws:s3:::raw-bucket', 'must be a kms ARN'],
    ['ALLOWED_TYPETAGS', '', 'must list at least one typetag'],
    ['MAX_ATTEMPTS', '1000', 'must be at most 100'],
    ['LEASE_MS', '0', 'must be a positive integer'],
  ])('a bad %s fails at start-up with a ConfigError naming it', (name, value, message) => {
    const env: Record<string, string | undefined> = { ...PROCESS_TEST_ENV, [name]: value };
    expect(() => loadEnv(processEnvSchema, env)).toThrow(ConfigError);
    expect(() => loadEnv(processEnvSchema, env)).toThrow(message);
  });

  test('loading the function without its environment fails the init phase, not a batch', () => {
    const saved = process.env.LEDGER_TABLE;
    delete process.env.LEDGER_TABLE;
    try {
      jest.isolateModules(() => {
        expect(() => require('../../../lambdas/handlers/process')).toThrow(/LEDGER_TABLE missing/);
      });
    } finally {
      process.env.LEDGER_TABLE = saved;
    }
  });
});

describe('process handler with the real core', () => {
  test('an esdk-sealed cowrie upload ends PROCESSED with its counts, once; the redelivery is a duplicate', async () => {
    const { handler, deps, emitted } = harness();
    const uploadId = '01JD5Z3M8Q0000000000000042';
    const key = rawKey({
      tenant: 'acme',
      typetag: 'cowrie',
      receivedAt: EVENT_TIME,
      uploadId,
      envelope: 'esdk',
      gzip: true,
    });
    const lines = [
      JSON.stringify({
        eventid: 'cowrie.session.connect',
        session: 'a1b2c3d4e5f6',
        src_ip: '198.51.100.23',
        src_port: 50522,
        dst_ip: '10.0.0.5',
        dst_port: 22,
        protocol: 'ssh',
        sensor: 'honeypot-1',
        timestamp: '2026-11-22T09:10:00.000000Z',
      }),
      JSON.stringify({
        eventid: 'cowrie.login.failed',
        session: 'a1b2c3d4e5f6',
        src_ip: '198.51.100.23',
        username: 'root',
        password: '123456',
        sensor: 'honeypot-1',
        timestamp: '2026-11-22T09:10:01.000000Z',
      }),
      'not json at all',
    ];
    const sealed = await buffer(
      sealEnvelope('esdk', Readable.from([Buffer.from(`${lines.join('\n')}\n`)]), {
        keyArn: KEY_ARN,
        publicKey,
        context: { tenant: 'acme', typetag: 'cowrie' },
        gzip: true,
      }),
    );
    expect(await deps.store.putIfAbsent(RAW, key, sealed)).toBe('created');
    const record = s3Record({ versionId: null, key: key.replace(/=/g, '%3D') });
    (record.s3.object as Record<string, unknown>).size = sealed.length;

    const first = await handler(sqsEvent(sqsRecord(s3Body(record), 'upload-1')), lambdaContext('req-1'));
    expect(first.batchItemFailures).toEqual([]);
    const item = await deps.ledger.get({ bucket: RAW, key, versionId: 'null' });
    expect(item).toMatchObject({ status: 'PROCESSED', outcome: 'SUCCESS', tenant: 'acme', attempts: 1 });
    expect(item?.counts?.recordsIn).toBe(3);
    expect(item?.outputs?.curated.length).toBeGreaterThan(0);
    const events = (deps.events as MemoryEventPublisher).events;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ key, status: 'PROCESSED', outcome: 'SUCCESS' });
    expect(emitted[0]?.ObjectsProcessed).toBe(1);
    expect(emitted[0]?.RecordsParsed).toBe(item?.counts?.raws);

    const again = await handler(sqsEvent(sqsRecord(s3Body(record), 'upload-1')), lambdaContext('req-2'));
    expect(again.batchItemFailures).toEqual([]);
    expect((await deps.ledger.get({ bucket: RAW, key, versionId: 'null' }))?.attempts).toBe(1);
    expect(emitted[1]?.ObjectsProcessed).toBeUndefined();
  });
});
