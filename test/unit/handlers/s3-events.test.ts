/**
 * Parsing S3 notifications at the edge, and the rules that settle a message from what became of its objects. The
 * bodies are the JSON S3 puts in SQS messages (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html).
 */
import type { LedgerItem } from '../../../lambdas/ledger/model';
import {
  MalformedNotificationError,
  needsRetry,
  ObjectBusyError,
  type ObjectCreated,
  parseS3Notification,
  processCreatedObjects,
  retryErrorOf,
} from '../../../lambdas/process/s3-events';
import { ConfigError, PermanentError, TransientError } from '../../../lambdas/shared/errors';
import { KEY, s3Record, TEST_EVENT } from './s3-event-fixtures';

describe('parseS3Notification', () => {
  test('decodes the URL-encoded key and keeps version, size and event time', () => {
    const n = parseS3Notification(JSON.stringify({ Records: [s3Record()] }));
    expect(n).toEqual({
      kind: 'records',
      ignored: [],
      created: [
        {
          request: {
            ref: { bucket: 'raw-bucket', key: KEY, versionId: '3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY' },
            size: 4242,
            eventTime: new Date('2026-11-22T09:15:03.123Z'),
          },
          eventName: 'ObjectCreated:Put',
          sequencer: '0067403F1B2C3D4E5F',
        },
      ],
    });
  });

  test('an object of a bucket without versioning is version "null", as S3 and the ledger call it', () => {
    const n = parseS3Notification(JSON.stringify({ Records: [s3Record({ versionId: null })] }));
    expect(n.kind === 'records' && n.created[0]?.request.ref.versionId).toBe('null');
  });

  test('decodes form-encoded spaces and keeps keys that arrive unencoded', () => {
    const spaced = parseS3Notification(JSON.stringify({ Records: [s3Record({ key: 'raw/a+b%2Bc' })] }));
    expect(spaced.kind === 'records' && spaced.created[0]?.request.ref.key).toBe('raw/a b+c');
    const plain = parseS3Notification(JSON.stringify({ Records: [s3Record({ key: KEY })] }));
    expect(plain.kind === 'records' && plain.created[0]?.request.ref.key).toBe(KEY);
  });

  test('returns every ObjectCreated record of a message, in order, and sets others aside', () => {
    const body = JSON.stringify({
      Records: [
        s3Record({ versionId: 'v1' }),
        s3Record({ eventName: 'ObjectRemoved:Delete' }),
        s3Record({ versionId: 'v2', eventName: 'ObjectCreated:CompleteMultipartUpload' }),
        s3Record({ bucket: 'somebody-elses-bucket' }),
      ],
    });
    const n = parseS3Notification(body, { bucket: 'raw-bucket' });
    if (n.kind !== 'records') throw new Error('expected records');
    expect(n.created.map((c) => c.request.ref.versionId)).toEqual(['v1', 'v2']);
    expect(n.ignored).toEqual([
      { eventName: 'ObjectRemoved:Delete', bucket: 'raw-bucket', why: 'not an ObjectCreated event' },
      { eventName: 'ObjectCreated:Put', bucket: 'somebody-elses-bucket', why: 'not the raw bucket' },
    ]);
  });

  test('recognises the test event S3 sends when the notification is configured', () => {
    expect(parseS3Notification(JSON.stringify(TEST_EVENT))).toEqual({ kind: 'test' });
  });

  test.each([
    ['not JSON', 'this is not json'],
    ['JSON but no Records', JSON.stringify({ hello: 'world' })],
    ['an empty Records list', JSON.stringify({ Records: [] })],
    [
      'an EventBridge-wrapped S3 event',
      JSON.stringify({ 'detail-type': 'Object Created', source: 'aws.s3', detail: {} }),
    ],
    [
      'a record without a key',
      JSON.stringify({ Records: [{ ...s3Record(), s3: { bucket: { name: 'b' }, object: {} } }] }),
    ],
    ['a malformed percent-escape in the key', JSON.stringify({ Records: [s3Record({ key: 'raw/%E0%A4%A' })] })],
    ['an event time that is not a time', JSON.stringify({ Records: [{ ...s3Record(), eventTime: 'yesterday' }] })],
    ['another test event', JSON.stringify({ ...TEST_EVENT, Event: 's3:SomethingElse' })],
  ])('refuses %s as a MalformedNotificationError (a PermanentError) that does not echo the body', (_what, body) => {
    let thrown: unknown;
    try {
      parseS3Notification(body);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(MalformedNotificationError);
    expect(thrown).toBeInstanceOf(PermanentError);
    expect((thrown as MalformedNotificationError).issues.length).toBeGreaterThan(0);
    expect((thrown as Error).message).not.toContain('this is not json');
    expect((thrown as Error).message).not.toContain('world');
  });
});

describe('settling a message', () => {
  const n = parseS3Notification(
    JSON.stringify({
      Records: [s3Record({ versionId: 'a' }), s3Record({ versionId: 'b' }), s3Record({ versionId: 'c' })],
    }),
  );
  const created = (n.kind === 'records' ? n.created : []) as ObjectCreated[];
  const item = { status: 'PROCESSED' } as LedgerItem;

  test('runs every object even when an earlier one fails, one after the other', async () => {
    const order: string[] = [];
    let running = 0;
    const results = await processCreatedObjects(created, async (object) => {
      running += 1;
      expect(running).toBe(1);
      order.push(object.request.ref.versionId);
      await new Promise((r) => setImmediate(r));
      running -= 1;
      if (object.request.ref.versionId === 'a') throw new TransientError('throttled');
      return { status: 'processed', item };
    });
    expect(order).toEqual(['a', 'b', 'c']);
    expect(results.map((r) => r.fate.kind)).toEqual(['transient', 'processed', 'processed']);
  });

  test.each([
    ['processed', false, { outcome: { status: 'processed', item } }],
    ['quarantined', false, { outcome: { status: 'quarantined', item } }],
    ['duplicate', false, { outcome: { status: 'duplicate', item } }],
    ['busy', true, { outcome: { status: 'busy', leaseExpiresAt: new Date(0) } }],
    ['permanent', false, { error: new PermanentError('NOT_SUPPORTED', 'not a raw key') }],
    ['transient', true, { error: new TransientError('slow down') }],
    ['config', true, { error: new ConfigError('no such bucket') }],
    ['unexpected', true, { error: new TypeError('bug') }],
  ] as const)('a %s object: the message must come back = %p', async (kind, retry, result) => {
    const [object] = created;
    const results = await processCreatedObjects([object as ObjectCreated], async () => {
      if ('error' in result) throw result.error;
      return result.outcome;
    });
    expect(results[0]?.fate.kind).toBe(kind);
    expect(needsRetry(results[0]?.fate as never)).toBe(retry);
  });

  test('a message fails with its most serious error: config before unexpected before transient before busy', async () => {
    const errors = [
      new ObjectBusyError(created[0]?.request.ref as never, new Date(0)),
      new TransientError('t'),
      new ConfigError('c'),
    ];
    const results = await processCreatedObjects(created, async (_o, i) => {
      throw errors[i];
    });
    expect(retryErrorOf(results)).toBe(errors[2]);
    expect(retryErrorOf(results.slice(0, 2))).toBe(errors[1]);
    expect(retryErrorOf(results.slice(0, 1))).toBeInstanceOf(ObjectBusyError);
    const done = await processCreatedObjects(created, async () => ({ status: 'duplicate', item }));
    expect(retryErrorOf(done)).toBeUndefined();
  });
});
