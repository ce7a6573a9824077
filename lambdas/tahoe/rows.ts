/**
 * Rows of the TAHOE tables (DESIGN.md §3.7) for one record result. `data` is kept as its exact JSON text, as
 * Python's json.dumps writes it (ensure_ascii, compact): TAHOE data may hold NaN, big integers and lone
 * surrogates that warehouse JSON types reject or normalise.
 */
import { dumps } from './json';
import type { Attribute, Category, Instance, InstanceCache, TahoeEvent, TahoeObject } from './model';
import type { TahoeRecordResult } from './parsemain';
import type { EdgeRelation } from './view';

/** One uploaded record (key: tenant, object_sha256, record_no); `_hash` repeats when content repeats. */
export interface TahoeRawRow {
  readonly tenant: string;
  readonly object_sha256: string;
  readonly record_no: number;
  readonly _hash: string;
  readonly sub_type: string;
  readonly timezone: string;
  /** ISO 8601 UTC time the upload was received. */
  readonly received_at: string;
  readonly object_key: string;
  /** The record's data as JSON text. */
  readonly data: string;
}

/** An attribute, object, event or session (key: tenant, _hash). */
export interface TahoeInstanceRow {
  readonly tenant: string;
  readonly _hash: string;
  readonly itype: 'attribute' | 'object' | 'event' | 'session';
  readonly sub_type: string;
  readonly data: string;
  /** Events only: the organisation whose event it is (part of the event's hash). */
  readonly orgid: string | null;
  /** Events only: float seconds since the epoch (UTC) as hashed; null when the timestamp is not finite. */
  readonly event_ts: number | null;
  readonly category: Category | null;
  /** Sessions only (set by cowrie session.connect / session.closed): float seconds since the epoch. */
  readonly start_time: number | null;
  readonly end_time: number | null;
  /** Sessions only: the closing record's `duration`, as JSON text (stored unvalidated, like the reference). */
  readonly duration: string | null;
}

/** A parent → child reference (key: all but event_ts). */
export interface TahoeEdgeRow {
  readonly tenant: string;
  readonly parent_hash: string;
  readonly relation: EdgeRelation;
  readonly child_hash: string;
  /** The event's time for edges of an event (its children, or its session_event edge); null otherwise. */
  readonly event_ts: number | null;
}

export interface TahoeRows {
  readonly raw: TahoeRawRow | null;
  readonly instances: TahoeInstanceRow[];
  readonly edges: TahoeEdgeRow[];
}

export interface RowContext {
  readonly tenant: string;
  readonly objectSha256: string;
  readonly recordNo: number;
  readonly objectKey: string;
  readonly receivedAt: Date | string;
  readonly timezone: string;
  /** The tenant's orgid; events carry their own, which must be this one. */
  readonly orgid: string;
}

function finite(x: number | undefined): number | null {
  return x !== undefined && Number.isFinite(x) ? x : null;
}

function instanceRow(tenant: string, i: Instance): TahoeInstanceRow {
  switch (i.itype) {
    case 'event':
      return {
        tenant,
        _hash: i.hash,
        itype: i.itype,
        sub_type: i.subType,
        data: i.json,
        orgid: i.orgid,
        event_ts: finite(i.timestamp),
        category: i.category,
        start_time: null,
        end_time: null,
        duration: null,
      };
    case 'session':
      return {
        tenant,
        _hash: i.hash,
        itype: i.itype,
        sub_type: i.subType,
        data: i.json,
        orgid: null,
        event_ts: null,
        category: null,
        start_time: finite(i.startTime),
        end_time: finite(i.endTime),
        duration: i.duration === undefined ? null : dumps(i.duration),
      };
    default:
      return {
        tenant,
        _hash: i.hash,
        itype: i.itype,
        sub_type: i.subType,
        data: i.json,
        orgid: null,
        event_ts: null,
        category: null,
        start_time: null,
        end_time: null,
        duration: null,
      };
  }
}

interface SharedRows {
  readonly tenant: string;
  readonly row: TahoeInstanceRow;
  readonly edges: readonly TahoeEdgeRow[];
}

/**
 * Attributes and objects built from memoized content are shared, immutable instances (see model.ts); their rows
 * only depend on the tenant, so they are built once per tenant and kept in the instance's cache slot (frozen:
 * rows are read, not edited). They live as long as the memo keeps the instance.
 */
function sharedRows(tenant: string, i: Attribute | TahoeObject, cache: InstanceCache): SharedRows {
  const hit = cache.rows as SharedRows | undefined;
  if (hit !== undefined && hit.tenant === tenant) return hit;
  const edges: TahoeEdgeRow[] = [];
  if (i.itype === 'object') {
    for (const c of i.cref)
      edges.push(Object.freeze({ tenant, parent_hash: i.hash, relation: 'cref', child_hash: c, event_ts: null }));
    for (const c of i.ref)
      edges.push(Object.freeze({ tenant, parent_hash: i.hash, relation: 'ref', child_hash: c, event_ts: null }));
  }
  const rows: SharedRows = { tenant, row: Object.freeze(instanceRow(tenant, i)), edges };
  cache.rows = rows;
  return rows;
}

/** Up to this many events, a record's event times are found by scanning its events (a Cowrie record has one). */
const FEW_EVENTS = 8;

/** The finite time of the record's event with this hash, or null (not an event, or not finite). */
function eventTsOf(hash: string, events: readonly TahoeEvent[], byHash: Map<string, number | null> | undefined) {
  if (byHash) return byHash.get(hash) ?? null;
  for (const e of events) if (e.hash === hash) return finite(e.timestamp);
  return null;
}

/**
 * The rows of one record: its raw (absent when the record never became one), its instances and every edge
 * including `raw_ref` (raw → what the filter derived). Rows are unique within the record.
 */
export function toRows(result: TahoeRecordResult, ctx: RowContext): TahoeRows {
  const raw = result.raw;
  if (!raw) return { raw: null, instances: [], edges: [] };
  const receivedAt = typeof ctx.receivedAt === 'string' ? ctx.receivedAt : ctx.receivedAt.toISOString();
  const rawRow: TahoeRawRow = {
    tenant: ctx.tenant,
    object_sha256: ctx.objectSha256,
    record_no: ctx.recordNo,
    _hash: raw.hash,
    sub_type: raw.subType,
    timezone: ctx.timezone,
    received_at: receivedAt,
    object_key: ctx.objectKey,
    data: raw.json,
  };
  const events: TahoeEvent[] = [];
  for (const i of result.instances) if (i.itype === 'event') events.push(i);
  const eventTs = events.length > FEW_EVENTS ? new Map(events.map((e) => [e.hash, finite(e.timestamp)])) : undefined;

  // Edges are unique by construction: every instance is stored once and its ref lists are sets.
  const instances: TahoeInstanceRow[] = [];
  const edges: TahoeEdgeRow[] = [];
  const tenant = ctx.tenant;
  for (const i of result.instances) {
    if (i.itype === 'event' && i.orgid !== ctx.orgid) {
      throw new Error(`event ${i.hash} has orgid ${i.orgid}, not the tenant's ${ctx.orgid}`);
    }
    if ((i.itype === 'attribute' || i.itype === 'object') && i.memoId !== 0 && i.cache !== undefined) {
      const cached = sharedRows(tenant, i, i.cache);
      instances.push(cached.row);
      for (const e of cached.edges) edges.push(e);
      continue;
    }
    instances.push(instanceRow(tenant, i));
    if (i.itype === 'attribute') continue;
    const ts = i.itype === 'event' ? finite(i.timestamp) : null;
    for (const c of i.cref) edges.push({ tenant, parent_hash: i.hash, relation: 'cref', child_hash: c, event_ts: ts });
    for (const c of i.ref) edges.push({ tenant, parent_hash: i.hash, relation: 'ref', child_hash: c, event_ts: ts });
    if (i.itype === 'event') {
      for (const c of i.malRef) {
        edges.push({ tenant, parent_hash: i.hash, relation: 'mal_ref', child_hash: c, event_ts: ts });
      }
      for (const c of i.benRef) {
        edges.push({ tenant, parent_hash: i.hash, relation: 'ben_ref', child_hash: c, event_ts: ts });
      }
    } else if (i.itype === 'session') {
      for (const e of i.eventRefs) {
        const ets = eventTsOf(e, events, eventTs);
        edges.push({ tenant, parent_hash: i.hash, relation: 'session_event', child_hash: e, event_ts: ets });
      }
    }
  }
  for (const child of result.rawRef) {
    edges.push({
      tenant,
      parent_hash: raw.hash,
      relation: 'raw_ref',
      child_hash: child,
      event_ts: eventTsOf(child, events, eventTs),
    });
  }
  return { raw: rawRow, instances, edges };
}
