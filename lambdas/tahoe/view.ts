/**
 * Views of a record result: its edges (DESIGN.md §3.7) and the record report in the format of the golden
 * vectors (fixtures/tahoe/README.md, records.jsonl), which the `cyberactive tahoe` CLI prints.
 */
import { type JsonOut, PyFloat, type PyValue } from './json';
import type { Instance } from './model';
import type { TahoeRecordResult } from './parsemain';

export type EdgeRelation = 'cref' | 'ref' | 'mal_ref' | 'ben_ref' | 'session_event' | 'raw_ref';
export type Edge = readonly [parent: string, relation: EdgeRelation, child: string];

/** The edges an instance holds: cref, ref (every cref is also a ref), mal_ref/ben_ref, session_event. */
export function instanceEdges(i: Instance): Edge[] {
  if (i.itype === 'attribute') return [];
  const out: Edge[] = [];
  for (const c of i.cref) out.push([i.hash, 'cref', c]);
  for (const c of i.ref) out.push([i.hash, 'ref', c]);
  if (i.itype === 'event') {
    for (const c of i.malRef) out.push([i.hash, 'mal_ref', c]);
    for (const c of i.benRef) out.push([i.hash, 'ben_ref', c]);
  } else if (i.itype === 'session') {
    for (const e of i.eventRefs) out.push([i.hash, 'session_event', e]);
  }
  return out;
}

function compareEdges(a: Edge, b: Edge): number {
  for (let k = 0; k < 3; k++) {
    const x = a[k] as string;
    const y = b[k] as string;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Every edge of a record's instances (not the raw's), unique and sorted as the golden files list them. */
export function recordEdges(result: TahoeRecordResult): Edge[] {
  const seen = new Set<string>();
  const out: Edge[] = [];
  for (const i of result.instances) {
    for (const e of instanceEdges(i)) {
      const key = e.join(' ');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(e);
    }
  }
  return out.sort(compareEdges);
}

/** `{itype, sub_type, data, ...}` as the golden `instances` show an instance (refs left out, extras sorted). */
export function instanceView(i: Instance): Map<string, JsonOut> {
  const v = new Map<string, JsonOut>([
    ['itype', i.itype],
    ['sub_type', i.subType],
    ['data', i.data],
  ]);
  if (i.itype === 'event') {
    v.set('category', i.category);
    v.set('orgid', i.orgid);
    v.set('timestamp', new PyFloat(i.timestamp));
  } else if (i.itype === 'session') {
    if (i.duration !== undefined) v.set('duration', i.duration as PyValue);
    if (i.endTime !== undefined) v.set('end_time', new PyFloat(i.endTime));
    if (i.startTime !== undefined) v.set('start_time', new PyFloat(i.startTime));
  }
  return v;
}

/** The golden `outcome` text: ok, raw_only, or `error: <Python exception class>`. */
export function outcomeText(result: TahoeRecordResult): string {
  if (result.outcome === 'SUCCESS') return 'ok';
  if (result.outcome === 'SUCCESS_INVALID') return 'raw_only';
  return `error: ${result.errorType ?? 'Error'}`;
}

/**
 * One record as a golden-format report: outcome, error {stage, type, message}, filter, raw, raw_after,
 * instances (by hash), edges. `extra` members (e.g. the line number) come first.
 */
export function recordReport(result: TahoeRecordResult, extra: Record<string, JsonOut> = {}): Map<string, JsonOut> {
  const out = new Map<string, JsonOut>(Object.entries(extra));
  out.set('outcome', outcomeText(result));
  const failed = result.outcome === 'ERROR' || result.outcome === 'NOT_SUPPORTED' || result.outcome === 'BAD_DATA';
  if (failed) {
    out.set(
      'error',
      new Map<string, JsonOut>([
        ['stage', result.stage ?? null],
        ['type', result.errorType ?? null],
        ['message', result.reason ?? null],
      ]),
    );
  }
  out.set('filter', result.filter?.name ?? null);
  const raw = result.raw;
  out.set(
    'raw',
    raw
      ? new Map<string, JsonOut>([
          ['itype', 'raw'],
          ['sub_type', raw.subType],
          ['data', raw.data],
          ['_hash', raw.hash],
        ])
      : null,
  );
  let after: Map<string, JsonOut> | null = null;
  if (raw) {
    after = new Map();
    if (result.outcome === 'SUCCESS' && result.filter) {
      after.set('_ref', [...result.rawRef].sort());
      after.set('filters', [result.filter.id]);
    } else if (result.outcome === 'SUCCESS_INVALID' && result.filter) {
      after.set('_valid', false);
    }
  }
  out.set('raw_after', after);
  const instances = new Map<string, JsonOut>();
  for (const i of [...result.instances].sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0))) {
    instances.set(i.hash, instanceView(i));
  }
  out.set('instances', instances);
  out.set('edges', recordEdges(result) as unknown as JsonOut);
  return out;
}
