/**
 * The EventBridge adapter's PutEvents request and how it maps refusals. EventBridge has no local twin, so the
 * client is mocked at the SDK seam; the local publishers are tested against real files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventBridgeClient, EventBridgeServiceException, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import {
  EventBridgePublisher,
  eventDetail,
  MAX_DETAIL_BYTES,
  OBJECT_PROCESSED,
} from '../../../lambdas/adapters/eventbridge-publisher';
import { FileEventPublisher, MemoryEventPublisher } from '../../../lambdas/adapters/local-event-publisher';
import { ZERO_COUNTS } from '../../../lambdas/ledger/model';
import type { ObjectProcessedEvent } from '../../../lambdas/process/ports';
import { ConfigError, TransientError } from '../../../lambdas/shared/errors';

const eventbridge = mockClient(EventBridgeClient);
const BUS = 'cyberactive-dev-bus';
const publisher = new EventBridgePublisher(
  new EventBridgeClient({ region: 'eu-west-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } }),
  { eventBusName: BUS },
);

beforeEach(() => eventbridge.reset());

function event(overrides: Partial<ObjectProcessedEvent> = {}): ObjectProcessedEvent {
  return {
    tenant: 'acme',
    typetag: 'cowrie',
    bucket: 'raw-bucket',
    key: 'raw/tenant=acme/typetag=cowrie/dt=2026-11-22/hour=09/01JD0000000000000000000001.gz.esdk',
    versionId: 'v1',
    sha256: 'a'.repeat(64),
    status: 'PROCESSED',
    outcome: 'SUCCESS',
    counts: { ...ZERO_COUNTS, recordsIn: 3, raws: 3, success: 3 },
    outputs: [`tahoe/tahoe_raw/tenant=acme/dt=2026-11-22/${'a'.repeat(64)}-00000.parquet`],
    processedAt: '2026-11-22T09:30:00.000Z',
    ...overrides,
  };
}

function serviceError(name: string, status: number): EventBridgeServiceException {
  return new EventBridgeServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message: name,
  });
}

describe('EventBridgePublisher', () => {
  test('sends one ObjectProcessed entry from cyberactive.process to the bus, timed when the object was processed', async () => {
    eventbridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    await publisher.publish(event());
    const calls = eventbridge.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(1);
    const entries = calls[0]?.args[0].input.Entries ?? [];
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      EventBusName: BUS,
      Source: 'cyberactive.process',
      DetailType: 'ObjectProcessed',
      Time: new Date('2026-11-22T09:30:00.000Z'),
    });
    expect(JSON.parse(entries[0]?.Detail ?? '')).toEqual(event());
  });

  test('a refused entry (FailedEntryCount > 0) is a TransientError naming the error code', async () => {
    eventbridge.on(PutEventsCommand).resolves({
      FailedEntryCount: 1,
      Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }],
    });
    const thrown = await publisher.publish(event()).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(TransientError);
    expect((thrown as Error).message).toContain('ThrottlingException');
  });

  test.each([
    ['ThrottlingException', 400, 'TransientError'],
    ['InternalException', 500, 'TransientError'],
    ['ServiceUnavailable', 503, 'TransientError'],
    ['AccessDeniedException', 400, 'ConfigError'],
    ['ResourceNotFoundException', 400, 'ConfigError'],
    ['KMSAccessDeniedException', 400, 'ConfigError'],
  ])('a call failing with %s (HTTP %d) is a %s', async (name, status, expected) => {
    eventbridge.on(PutEventsCommand).rejects(serviceError(name, status));
    const thrown = await publisher.publish(event()).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(expected === 'ConfigError' ? ConfigError : TransientError);
    expect((thrown as Error).message).toContain(BUS);
  });

  test('a network error is a TransientError', async () => {
    eventbridge.on(PutEventsCommand).rejects(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await expect(publisher.publish(event())).rejects.toBeInstanceOf(TransientError);
  });

  test('drops the output list of an event too large for one entry and says how many outputs there were', () => {
    const outputs = Array.from(
      { length: 3000 },
      (_, i) => `tahoe/tahoe_raw/tenant=acme/dt=2026-11-22/${'b'.repeat(64)}-${i}.parquet`,
    );
    const detail = JSON.parse(eventDetail(event({ outputs })));
    expect(Buffer.byteLength(JSON.stringify(event({ outputs })))).toBeGreaterThan(MAX_DETAIL_BYTES);
    expect(detail).toMatchObject({ outputs: [], outputCount: 3000, outputsOmitted: true, sha256: 'a'.repeat(64) });
    expect(JSON.parse(eventDetail(event()))).toEqual(event());
  });
});

describe('local event publishers', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'events-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('the file publisher appends one EventBridge-shaped JSON line per event and reads them back in order', async () => {
    const path = join(dir, 'nested', 'events.jsonl');
    const files = new FileEventPublisher(path);
    expect(await files.read()).toEqual([]);
    await files.publish(event({ versionId: 'v1' }));
    await files.publish(event({ versionId: 'v2', status: 'QUARANTINED', outcome: 'BAD_DATA', reason: 'tampered' }));
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    const read = await files.read();
    expect(read.map((l) => l.detail.versionId)).toEqual(['v1', 'v2']);
    expect(read[1]).toEqual({
      source: OBJECT_PROCESSED.source,
      'detail-type': OBJECT_PROCESSED.detailType,
      time: '2026-11-22T09:30:00.000Z',
      detail: event({ versionId: 'v2', status: 'QUARANTINED', outcome: 'BAD_DATA', reason: 'tampered' }),
    });
  });

  test('a torn last line (a crash mid-write) does not hide the events before it', async () => {
    const path = join(dir, 'events.jsonl');
    const files = new FileEventPublisher(path);
    await files.publish(event());
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"source":"cyberactive.pro`);
    expect(await files.read()).toHaveLength(1);
  });

  test('the memory publisher keeps copies, so later changes to an event object do not rewrite history', async () => {
    const memory = new MemoryEventPublisher();
    const e = { ...event(), outputs: ['a'] };
    await memory.publish(e);
    e.outputs.push('b');
    expect(memory.events).toEqual([{ ...event(), outputs: ['a'] }]);
  });
});
