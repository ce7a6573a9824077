/**
 * `Ledger` on DynamoDB (table and indexes of LEDGER_TABLE, lib/stacks/storage-stack.ts). Every state change is
 * one conditional UpdateItem/PutItem: the condition expression is the transition's guard
 * (lambdas/ledger/transitions.ts), and when it fails, `ReturnValuesOnConditionCheckFailure: ALL_OLD` hands back the
 * item as it was, from which the same pure transition tells finished from busy (or lost, or already done) without a
 * second round trip. A model-based test runs these requests through an evaluator of DynamoDB's expression
 * semantics next to the local twin and checks that both answer alike.
 *
 * How failures are classified (DESIGN.md §5):
 * - ConditionalCheckFailedException → the typed answer of the transition (never an exception of its own).
 * - ProvisionedThroughputExceededException, ThrottlingException, RequestLimitExceeded, InternalServerError,
 *   transaction/replication conflicts, any 5xx, time-outs and network errors → TransientError (the SDK has already
 *   retried with backoff; the message is retried later).
 * - AccessDeniedException, ResourceNotFoundException (table or index missing), KMS errors of the table's key →
 *   TransientError with a hint: the object is fine and the fix is on our side, so it must not be quarantined; if the
 *   fix takes long, the message waits in the DLQ for a redrive.
 * - ValidationException, SerializationException → LedgerRequestError: a request we built wrong (or an item over
 *   the 400 KB limit). Retrying cannot help; it is a bug to look at.
 * - Anything unrecognised → TransientError: when in doubt, keep the object.
 */
import type { NativeAttributeValue } from '@aws-sdk/lib-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { InvalidCursorError } from '../ledger/errors';
import {
  assertLeaseMs,
  assertLoadId,
  assertMaxAttempts,
  assertMeta,
  assertOwner,
  assertPageSize,
  assertProofBatch,
  assertQuerySha256,
  assertQueryTenant,
  assertRef,
  assertRefs,
  assertResult,
  assertTime,
  clampReason,
  outputsTenant,
} from '../ledger/invariants';
import {
  type BeginOptions,
  type BeginResult,
  DEFAULT_PAGE_SIZE,
  type HeartbeatResult,
  type LedgerItem,
  type LedgerPage,
  type ListOptions,
  type MarkLoadedResult,
  type MarkNotarisedResult,
  type ObjectMeta,
  type ObjectRef,
  type ProcessingResult,
  type ReceiveResult,
} from '../ledger/model';
import type { Ledger } from '../ledger/port';
import {
  countsToRecord,
  fromRecord,
  LEDGER_TABLE,
  outputsToRecord,
  partitionKey,
  recordKey,
  toRecord,
} from '../ledger/record';
import {
  beginTransition,
  completeTransition,
  heartbeatTransition,
  type MarkLoadedOutcome,
  markLoadedTransition,
  markNotarisedTransition,
  receiveTransition,
  type Transition,
} from '../ledger/transitions';
import { TransientError } from '../shared/errors';

/** A request DynamoDB refused as malformed: a bug in how it was built, not a passing condition. */
export class LedgerRequestError extends Error {
  override readonly name = 'LedgerRequestError';
}

const RETRY = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TransactionConflictException',
  'ReplicatedWriteConflictException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const OUR_SIDE = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'ResourceNotFoundException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
]);
const MALFORMED = new Set(['ValidationException', 'SerializationException']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND']);

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
  Item?: Record<string, unknown>;
}

/** Classifies an error of the document client other than a failed condition; see the module comment. */
export function classifyDynamoError(err: unknown, what: string): Error {
  const e = (typeof err === 'object' && err !== null ? err : {}) as AwsErrorShape;
  const name = e.name ?? 'Error';
  const message = `DynamoDB ${what}: ${name}${e.message ? `: ${e.message}` : ''}`;
  const options = { cause: err };
  if (MALFORMED.has(name)) return new LedgerRequestError(message, options);
  if (OUR_SIDE.has(name)) {
    return new TransientError(`${message} (check the table name, the role's permissions and the table's key)`, options);
  }
  const status = e.$metadata?.httpStatusCode;
  if (RETRY.has(name) || e.$fault === 'server' || (status !== undefined && status >= 500)) {
    return new TransientError(message, options);
  }
  if (e.code && NETWORK_CODES.has(e.code)) return new TransientError(message, options);
  return new TransientError(`${message} (unrecognised; retried rather than dropped)`, options);
}

const isConditionFailure = (err: unknown) =>
  typeof err === 'object' && err !== null && (err as AwsErrorShape).name === 'ConditionalCheckFailedException';

/**
 * The document client does not unmarshall the item carried by ConditionalCheckFailedException (it only translates
 * successful outputs), so it arrives as AttributeValues; `pk` is always a string, which tells the two forms apart.
 */
function returnedItem(item: Record<string, unknown> | undefined): LedgerItem | undefined {
  if (!item || Object.keys(item).length === 0) return undefined;
  const pk = item.pk;
  const marshalled = typeof pk === 'object' && pk !== null && 'S' in pk;
  return fromRecord(marshalled ? unmarshall(item as Parameters<typeof unmarshall>[0]) : item);
}

/** `#name` placeholders stand for the attribute of the same name, so the names map follows from the expressions. */
function namesOf(...expressions: (string | undefined)[]): Record<string, string> {
  const names: Record<string, string> = {};
  for (const e of expressions)
    for (const m of e?.matchAll(/#([A-Za-z_][A-Za-z0-9_]*)/g) ?? []) names[m[0]] = m[1] as string;
  return names;
}

type Values = Record<string, NativeAttributeValue>;

function update(
  tableName: string,
  ref: ObjectRef,
  set: readonly string[],
  condition: string,
  values: Values,
  extra: Partial<UpdateCommandInput> & { remove?: readonly string[] } = {},
): UpdateCommandInput {
  const { remove, ...rest } = extra;
  const expression = `SET ${set.join(', ')}${remove?.length ? ` REMOVE ${remove.join(', ')}` : ''}`;
  return {
    TableName: tableName,
    Key: recordKey(ref),
    UpdateExpression: expression,
    ConditionExpression: condition,
    ExpressionAttributeNames: namesOf(expression, condition),
    ExpressionAttributeValues: values,
    ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    ...rest,
  };
}

/** Guards of the transitions, as condition expressions. Keep in step with transitions.ts. */
export const CONDITIONS = {
  receive: 'attribute_not_exists(#pk)',
  /** New, RECEIVED, or PROCESSING with an expired lease. */
  begin: 'attribute_not_exists(#pk) OR #status = :received OR (#status = :processing AND #lease_expires_at <= :now_ms)',
  holder: '#status = :processing AND #lease_owner = :owner',
  /** Only one hash per object: a completion may add it, never change it. */
  sameSha256: '(attribute_not_exists(#sha256) OR #sha256 = :sha256)',
  sameTenant: '#tenant = :tenant',
  finished: '#status IN (:processed, :quarantined)',
  notarisable: 'attribute_exists(#sha256) AND attribute_not_exists(#proof_batch)',
} as const;

/** How many conditional writes one call may repeat when the item changes under it. */
const MAX_ROUNDS = 5;

export interface DynamoLedgerOptions {
  readonly tableName: string;
  /** Parallel UpdateItem requests of one `markLoaded` call. @default 8 */
  readonly concurrency?: number;
  /** Most items `findBySha256` returns (the same content uploaded again and again by one tenant). @default 1000 */
  readonly maxMatches?: number;
}

export class DynamoLedger implements Ledger {
  private readonly table: string;
  private readonly concurrency: number;
  private readonly maxMatches: number;

  /** @param doc built once per container by the handler (e.g. `DynamoDBDocumentClient.from(new DynamoDBClient())`). */
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    options: DynamoLedgerOptions,
  ) {
    this.table = options.tableName;
    this.concurrency = options.concurrency ?? 8;
    this.maxMatches = options.maxMatches ?? 1000;
  }

  /**
   * Sends a conditional write. On success, `onSuccess` reads the answer from the returned attributes. On a failed
   * condition, the transition applied to the item DynamoDB returned explains why. If that transition would write
   * after all, the item changed between the check and a fallback read (or the expressions and transitions.ts
   * disagree, which the model test guards against): try again, a bounded number of times.
   */
  private async conditional<R>(
    op: string,
    ref: ObjectRef,
    input: UpdateCommandInput | PutCommandInput,
    decide: (current: LedgerItem | undefined) => Transition<R>,
    onSuccess: (attributes: Record<string, unknown> | undefined) => R,
  ): Promise<R> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let attributes: Record<string, unknown> | undefined;
      try {
        const out =
          'UpdateExpression' in input
            ? await this.doc.send(new UpdateCommand(input as UpdateCommandInput))
            : await this.doc.send(new PutCommand(input as PutCommandInput));
        attributes = out.Attributes;
      } catch (err) {
        if (!isConditionFailure(err)) throw classifyDynamoError(err, `${op} ${partitionKey(ref)}`);
        const item = (err as AwsErrorShape).Item;
        // Without the old item (not returned by an emulator, or the item is absent), read it.
        const current = item && Object.keys(item).length > 0 ? returnedItem(item) : await this.get(ref);
        const t = decide(current);
        if (!t.write) return t.result;
        continue;
      }
      // Outside the try: a stored item that does not parse is corruption to report, not a DynamoDB error to retry.
      return onSuccess(attributes);
    }
    throw new Error(
      `ledger ${op} on ${partitionKey(ref)}: condition keeps failing although the stored item allows the change (are CONDITIONS and transitions.ts out of step?)`,
    );
  }

  async receive(ref: ObjectRef, meta: ObjectMeta, now: Date): Promise<ReceiveResult> {
    assertRef(ref);
    assertMeta(meta);
    assertTime(now);
    const created = receiveTransition(undefined, ref, meta, now);
    const record = toRecord(created.write as LedgerItem);
    return this.conditional(
      'receive',
      ref,
      {
        TableName: this.table,
        Item: record,
        ConditionExpression: CONDITIONS.receive,
        ExpressionAttributeNames: namesOf(CONDITIONS.receive),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
      (current) => receiveTransition(current, ref, meta, now),
      () => ({ kind: 'created', item: fromRecord(record) }),
    );
  }

  async begin(ref: ObjectRef, options: BeginOptions): Promise<BeginResult> {
    assertRef(ref);
    assertOwner(options.owner);
    assertTime(options.now);
    assertLeaseMs(options.leaseMs);
    assertMeta(options.meta);
    if (options.maxAttempts !== undefined) assertMaxAttempts(options.maxAttempts);
    const { meta, now } = options;
    const values: Values = {
      ':bucket': ref.bucket,
      ':object_key': ref.key,
      ':version_id': ref.versionId,
      ':tenant': meta.tenant,
      ':typetag': meta.typetag,
      ':size': meta.size,
      ':received_at': meta.receivedAt.toISOString(),
      ':processing': 'PROCESSING',
      ':received': 'RECEIVED',
      ':zero': 0,
      ':one': 1,
      ':owner': options.owner,
      ':lease_expires_at': now.getTime() + options.leaseMs,
      ':now': now.toISOString(),
      ':now_ms': now.getTime(),
    };
    const set = [
      // The key attributes come from Key; these copies make the item readable without parsing `pk`.
      '#bucket = :bucket',
      '#object_key = :object_key',
      '#version_id = :version_id',
      // What is known of an object does not change; the first writer's record stands.
      '#tenant = if_not_exists(#tenant, :tenant)',
      '#typetag = if_not_exists(#typetag, :typetag)',
      '#size = if_not_exists(#size, :size)',
      '#received_at = if_not_exists(#received_at, :received_at)',
      '#status = :processing',
      '#attempts = if_not_exists(#attempts, :zero) + :one',
      '#lease_owner = :owner',
      '#lease_expires_at = :lease_expires_at',
      '#created_at = if_not_exists(#created_at, :now)',
      '#started_at = :now',
      '#updated_at = :now',
    ];
    if (meta.sha256 !== undefined) {
      set.push('#sha256 = if_not_exists(#sha256, :sha256)');
      values[':sha256'] = meta.sha256;
    }
    const decide = (current: LedgerItem | undefined) => beginTransition(current, ref, options);
    return this.conditional(
      'begin',
      ref,
      // ALL_OLD on success too: the previous attempt count and state give the attempt number and whether this was
      // a takeover, without reading the item first.
      update(this.table, ref, set, CONDITIONS.begin, values, { ReturnValues: 'ALL_OLD' }),
      decide,
      (attributes) => {
        const t = decide(returnedItem(attributes));
        if (!t.write) throw new Error(`ledger begin on ${partitionKey(ref)}: stored item does not allow what was done`);
        return t.result;
      },
    );
  }

  async heartbeat(ref: ObjectRef, owner: string, now: Date, leaseMs: number): Promise<HeartbeatResult> {
    assertRef(ref);
    assertOwner(owner);
    assertTime(now);
    assertLeaseMs(leaseMs);
    const leaseExpiresAt = new Date(now.getTime() + leaseMs);
    return this.conditional(
      'heartbeat',
      ref,
      update(this.table, ref, ['#lease_expires_at = :lease_expires_at', '#updated_at = :now'], CONDITIONS.holder, {
        ':lease_expires_at': leaseExpiresAt.getTime(),
        ':now': now.toISOString(),
        ':processing': 'PROCESSING',
        ':owner': owner,
      }),
      (current) => heartbeatTransition(current, owner, now, leaseMs),
      () => ({ kind: 'extended', leaseExpiresAt }),
    );
  }

  async complete(ref: ObjectRef, owner: string, result: ProcessingResult, now: Date): Promise<LedgerItem> {
    assertRef(ref);
    assertOwner(owner);
    assertTime(now);
    assertResult(result);
    const values: Values = {
      ':status': result.outcome === 'SUCCESS' ? 'PROCESSED' : 'QUARANTINED',
      ':outcome': result.outcome,
      ':counts': countsToRecord(result.counts),
      ':outputs': outputsToRecord(result.outputs),
      ':now': now.toISOString(),
      ':processing': 'PROCESSING',
      ':owner': owner,
    };
    const set = [
      '#status = :status',
      '#outcome = :outcome',
      '#counts = :counts',
      '#outputs = :outputs',
      '#finished_at = :now',
      '#updated_at = :now',
    ];
    const conditions: string[] = [CONDITIONS.holder];
    const reason = clampReason(result.reason);
    if (reason !== undefined) {
      set.push('#reason = :reason');
      values[':reason'] = reason;
    }
    if (result.sha256 !== undefined) {
      set.push('#sha256 = :sha256');
      values[':sha256'] = result.sha256;
      conditions.push(CONDITIONS.sameSha256);
    }
    const tenant = outputsTenant(result);
    if (tenant !== undefined) {
      values[':tenant'] = tenant;
      conditions.push(CONDITIONS.sameTenant);
    }
    return this.conditional(
      'complete',
      ref,
      update(this.table, ref, set, conditions.join(' AND '), values, {
        remove: ['#lease_expires_at'],
        ReturnValues: 'ALL_NEW',
      }),
      (current) => completeTransition(current, ref, owner, result, now),
      (attributes) => fromRecord(attributes),
    );
  }

  private markLoadedOne(ref: ObjectRef, loadId: string, now: Date): Promise<MarkLoadedOutcome> {
    return this.conditional(
      'markLoaded',
      ref,
      update(
        this.table,
        ref,
        ['#status = :loaded', '#load_id = :load_id', '#loaded_at = :now', '#updated_at = :now'],
        CONDITIONS.finished,
        {
          ':loaded': 'LOADED',
          ':load_id': loadId,
          ':now': now.toISOString(),
          ':processed': 'PROCESSED',
          ':quarantined': 'QUARANTINED',
        },
      ),
      (current) => markLoadedTransition(current, loadId, now),
      () => ({ kind: 'marked' }),
    );
  }

  async markLoaded(refs: readonly ObjectRef[], loadId: string, now: Date): Promise<MarkLoadedResult> {
    assertRefs(refs);
    assertLoadId(loadId);
    assertTime(now);
    const unique = [...new Map(refs.map((r) => [JSON.stringify([r.bucket, r.key, r.versionId]), r])).values()];
    // One conditional update per object rather than a transaction: one object that is not finished must not hold
    // back the others, and a transaction is capped at 100 items.
    const outcomes = new Array<MarkLoadedOutcome>(unique.length);
    let next = 0;
    const worker = async () => {
      while (next < unique.length) {
        const i = next++;
        outcomes[i] = await this.markLoadedOne(unique[i] as ObjectRef, loadId, now);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, unique.length) }, worker));
    const result = {
      marked: [] as ObjectRef[],
      alreadyLoaded: [] as ObjectRef[],
      refused: [] as MarkLoadedResult['refused'][number][],
    };
    unique.forEach((ref, i) => {
      const o = outcomes[i] as MarkLoadedOutcome;
      if (o.kind === 'marked') result.marked.push(ref);
      else if (o.kind === 'already') result.alreadyLoaded.push(ref);
      else result.refused.push({ ref, reason: o.reason, status: o.item?.status, loadId: o.item?.loadId });
    });
    return result;
  }

  async markNotarised(ref: ObjectRef, batchId: string, now: Date): Promise<MarkNotarisedResult> {
    assertRef(ref);
    assertProofBatch(batchId);
    assertTime(now);
    return this.conditional(
      'markNotarised',
      ref,
      update(
        this.table,
        ref,
        ['#proof_batch = :proof_batch', '#notarised_at = :now', '#updated_at = :now'],
        CONDITIONS.notarisable,
        { ':proof_batch': batchId, ':now': now.toISOString() },
      ),
      (current) => markNotarisedTransition(current, batchId, now),
      () => ({ kind: 'notarised' }),
    );
  }

  async get(ref: ObjectRef): Promise<LedgerItem | undefined> {
    assertRef(ref);
    try {
      const out = await this.doc.send(
        new GetCommand({ TableName: this.table, Key: recordKey(ref), ConsistentRead: true }),
      );
      return out.Item ? fromRecord(out.Item) : undefined;
    } catch (err) {
      throw classifyDynamoError(err, `get ${partitionKey(ref)}`);
    }
  }

  private async query(input: QueryCommandInput, what: string) {
    try {
      return await this.doc.send(new QueryCommand(input));
    } catch (err) {
      throw classifyDynamoError(err, what);
    }
  }

  async findBySha256(tenant: string, sha256: string): Promise<LedgerItem[]> {
    assertQueryTenant(tenant);
    assertQuerySha256(sha256);
    const index = LEDGER_TABLE.bySha256;
    const condition = `#${index.partitionKey} = :sha256 AND #${index.sortKey} = :tenant`;
    const items: LedgerItem[] = [];
    let start: Record<string, NativeAttributeValue> | undefined;
    do {
      const out = await this.query(
        {
          TableName: this.table,
          IndexName: index.indexName,
          KeyConditionExpression: condition,
          ExpressionAttributeNames: namesOf(condition),
          ExpressionAttributeValues: { ':sha256': sha256, ':tenant': tenant },
          Limit: this.maxMatches - items.length,
          ...(start ? { ExclusiveStartKey: start } : {}),
        },
        `findBySha256 ${tenant}`,
      );
      for (const item of out.Items ?? []) items.push(fromRecord(item));
      start = out.LastEvaluatedKey;
    } while (start && items.length < this.maxMatches);
    // The index sorts by tenant, the same for all of these: order by arrival like the local twin does.
    return items.sort(
      (a, b) =>
        a.receivedAt.getTime() - b.receivedAt.getTime() ||
        (partitionKey(a.ref) < partitionKey(b.ref) ? -1 : partitionKey(a.ref) > partitionKey(b.ref) ? 1 : 0) ||
        (a.ref.versionId < b.ref.versionId ? -1 : a.ref.versionId > b.ref.versionId ? 1 : 0),
    );
  }

  async listByTenant(tenant: string, options: ListOptions = {}): Promise<LedgerPage> {
    assertQueryTenant(tenant);
    const limit = options.limit ?? DEFAULT_PAGE_SIZE;
    assertPageSize(limit);
    if (options.from) assertTime(options.from, 'from');
    if (options.to) assertTime(options.to, 'to');
    const index = LEDGER_TABLE.byTenantReceivedAt;
    const values: Values = { ':tenant': tenant };
    let range = '';
    // `to` is exclusive; received_at is an ISO string with milliseconds, so "before to" is "at most to - 1 ms".
    const last = options.to && new Date(options.to.getTime() - 1);
    if (options.from && last) {
      // BETWEEN with its bounds reversed is a ValidationException; an empty range simply has no items.
      if (last.getTime() < options.from.getTime()) return { items: [] };
      range = ` AND #${index.sortKey} BETWEEN :from AND :last`;
      values[':from'] = options.from.toISOString();
      values[':last'] = last.toISOString();
    } else if (options.from) {
      range = ` AND #${index.sortKey} >= :from`;
      values[':from'] = options.from.toISOString();
    } else if (options.to) {
      range = ` AND #${index.sortKey} < :to`;
      values[':to'] = options.to.toISOString();
    }
    const condition = `#${index.partitionKey} = :tenant${range}`;
    const out = await this.query(
      {
        TableName: this.table,
        IndexName: index.indexName,
        KeyConditionExpression: condition,
        ExpressionAttributeNames: namesOf(condition),
        ExpressionAttributeValues: values,
        Limit: limit,
        ScanIndexForward: true,
        ...(options.cursor === undefined ? {} : { ExclusiveStartKey: decodeKeyCursor(tenant, options.cursor) }),
      },
      `listByTenant ${tenant}`,
    );
    return {
      items: (out.Items ?? []).map((i) => fromRecord(i)),
      ...(out.LastEvaluatedKey ? { cursor: encodeKeyCursor(out.LastEvaluatedKey) } : {}),
    };
  }
}

/** The index's LastEvaluatedKey (table and index keys, all strings), as an opaque URL-safe string. */
const CURSOR_KEYS = [
  LEDGER_TABLE.partitionKey,
  LEDGER_TABLE.sortKey,
  LEDGER_TABLE.byTenantReceivedAt.partitionKey,
  LEDGER_TABLE.byTenantReceivedAt.sortKey,
].sort();

function encodeKeyCursor(key: Record<string, NativeAttributeValue>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

function decodeKeyCursor(tenant: string, cursor: string): Record<string, string> {
  let key: unknown;
  try {
    key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError('malformed ledger cursor');
  }
  const k = key as Record<string, unknown>;
  const names = typeof k === 'object' && k !== null && !Array.isArray(k) ? Object.keys(k).sort() : [];
  if (names.join() !== CURSOR_KEYS.join() || names.some((n) => typeof k[n] !== 'string')) {
    throw new InvalidCursorError('malformed ledger cursor');
  }
  // A cursor of another tenant would otherwise surface as a ValidationException (or, worse, be honoured).
  if (k[LEDGER_TABLE.byTenantReceivedAt.partitionKey] !== tenant) {
    throw new InvalidCursorError('ledger cursor of another tenant');
  }
  return k as Record<string, string>;
}
