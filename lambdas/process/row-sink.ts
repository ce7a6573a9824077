/**
 * Where the records of one raw object go while it is read: each record through parsemain, its rows into the three
 * Parquet part writers (parts staged as files in the work folder), its failures into the quarantine file, and its
 * outcome into the counts. Nothing here is visible outside the work folder; the caller uploads the staged files
 * only once the envelope authenticated (see process-object.ts).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordCounts } from '../ledger/model';
import { createPartWriter, type PartWriter } from '../parquet/part-writer';
import type { TahoeTable } from '../shared/s3-keys';
import { oversizeResult, type ParsemainOptions, parsemain, type TahoeRecordResult } from '../tahoe/parsemain';
import type { SplitRecord } from '../tahoe/records';
import { type TahoeEdgeRow, type TahoeInstanceRow, type TahoeRawRow, toRows } from '../tahoe/rows';
import { BoundedInstanceSet } from './dedupe';
import { QuarantineWriter, quarantineEntry } from './quarantine';

/** A Parquet part written to the work folder, waiting to be uploaded. */
export interface StagedPart {
  readonly table: TahoeTable;
  readonly part: number;
  readonly path: string;
  readonly rows: number;
}

export interface RowSinkOptions {
  readonly workDir: string;
  readonly tenant: string;
  readonly typetag: string;
  readonly orgid: string;
  readonly timezone: string;
  readonly receivedAt: Date;
  readonly objectKey: string;
  readonly objectSha256: string;
  readonly rowsPerPart: number;
  /** Bytes of values a part buffers at most (part-writer.ts `maxPartBytes`). */
  readonly maxPartBytes: number;
  readonly maxRecordBytes: number;
  readonly maxDocumentBytes: number;
  /** Keys per generation of the attribute/object de-duplication set; the others get a share (see dedupe.ts). */
  readonly dedupeKeys: number;
  /** Typetags parsemain accepts (the object's own, once the tenant's policy allowed it). */
  readonly enabledTypetags: ReadonlySet<string>;
}

export interface StagedOutput {
  readonly counts: RecordCounts;
  /** In upload order: tahoe_raw parts, then tahoe_instance, then tahoe_edge, each by part number. */
  readonly parts: readonly StagedPart[];
  /** The staged quarantine file, when some records were quarantined. */
  readonly quarantine?: string | undefined;
  /** The first quarantined record, for the ledger's reason (line and outcome, never the record's content). */
  readonly firstQuarantined?: { readonly line: number; readonly outcome: string } | undefined;
}

type MutableCounts = { -readonly [K in keyof RecordCounts]: RecordCounts[K] };

/**
 * Makes V8 flatten a string built by concatenation (the JSON texts of TAHOE data are): unflattened, such a "cons"
 * string keeps every piece it was built from, about six times the memory of its characters, and a part buffers
 * tens of thousands of them until it is written. Reading a character flattens it in place; the value is unchanged.
 */
function flatten(text: string | null): void {
  if (text !== null && text.length > 0) text.charCodeAt(0);
}

/**
 * What tells rows of one instance hash apart. Attributes and objects are pure functions of their hash. An event's
 * category and a session's times are set per record by the filter (a session's start comes from its connect
 * record, its end from its close record), so those rows differ under one hash and each variant is kept; the loader
 * merges them on the natural key.
 */
function instanceVariant(row: TahoeInstanceRow): string {
  switch (row.itype) {
    case 'event':
      return row.category ?? '';
    case 'session':
      return `${row.start_time}|${row.end_time}|${row.duration}`;
    default:
      return '';
  }
}

export class RowSink {
  private readonly counts: MutableCounts = {
    recordsIn: 0,
    raws: 0,
    instances: 0,
    edges: 0,
    quarantined: 0,
    success: 0,
    successInvalid: 0,
    notSupported: 0,
    error: 0,
    badData: 0,
  };
  private readonly staged: Record<TahoeTable, StagedPart[]> = { tahoe_raw: [], tahoe_instance: [], tahoe_edge: [] };
  private readonly raws: PartWriter<TahoeRawRow>;
  private readonly instances: PartWriter<TahoeInstanceRow>;
  private readonly edges: PartWriter<TahoeEdgeRow>;
  /**
   * One bounded set per kind, sized by how far apart repeats occur: attributes and objects recur across the whole
   * file (an attacker's address, a sensor, a password); an event or a raw only repeats when a line does, which is
   * close by if at all; a session's records are spread over its duration.
   */
  private readonly seen: Record<'node' | 'event' | 'session' | 'raw', BoundedInstanceSet>;
  /** Parents, within the current record, whose edges were written with an earlier row of the same content. */
  private readonly writtenParents = new Set<string>();
  private readonly receivedAtIso: string;
  private readonly quarantine: QuarantineWriter;
  private readonly parseOptions: ParsemainOptions;
  private firstQuarantined: StagedOutput['firstQuarantined'];

  constructor(private readonly o: RowSinkOptions) {
    const stage = (table: TahoeTable) => async (part: number, bytes: Uint8Array, rows: number) => {
      const path = join(o.workDir, `${table}-${String(part).padStart(5, '0')}.parquet`);
      // 'wx': a part is staged once; a second write would mean two writers shared the work folder.
      await writeFile(path, bytes, { flag: 'wx', mode: 0o600 });
      this.staged[table].push({ table, part, path, rows });
    };
    const parts = { rowsPerPart: o.rowsPerPart, maxPartBytes: o.maxPartBytes };
    this.raws = createPartWriter('tahoe_raw', { ...parts, onPart: stage('tahoe_raw') });
    this.instances = createPartWriter('tahoe_instance', { ...parts, onPart: stage('tahoe_instance') });
    this.edges = createPartWriter('tahoe_edge', { ...parts, onPart: stage('tahoe_edge') });
    const share = (divisor: number) => new BoundedInstanceSet(Math.max(1, Math.floor(o.dedupeKeys / divisor)));
    this.seen = { node: share(1), event: share(8), session: share(4), raw: share(8) };
    this.receivedAtIso = o.receivedAt.toISOString();
    this.quarantine = new QuarantineWriter(join(o.workDir, 'quarantine.jsonl.gz'));
    this.parseOptions = {
      receivedAt: o.receivedAt,
      enabledTypetags: o.enabledTypetags,
      limits: { maxRecordBytes: o.maxRecordBytes, maxDocumentBytes: o.maxDocumentBytes },
    };
  }

  /** Takes one record to its terminal outcome. */
  async record(rec: SplitRecord): Promise<void> {
    const o = this.o;
    const c = this.counts;
    c.recordsIn++;
    let result: TahoeRecordResult;
    let bytes: Buffer | null;
    let size: number;
    if ('tooLarge' in rec) {
      result = oversizeResult(rec.tooLarge.size, rec.tooLarge.limit);
      bytes = null;
      size = rec.tooLarge.size;
    } else {
      result = parsemain(o.typetag, o.orgid, o.timezone, rec.bytes, this.parseOptions);
      bytes = rec.bytes;
      size = rec.bytes.length;
    }
    switch (result.outcome) {
      case 'SUCCESS':
        c.success++;
        break;
      case 'SUCCESS_INVALID':
        c.successInvalid++;
        break;
      case 'ERROR':
        c.error++;
        break;
      case 'NOT_SUPPORTED':
        c.notSupported++;
        break;
      case 'BAD_DATA':
        c.badData++;
        break;
    }
    if (result.raw) await this.rows(result, rec.recordNo);
    if (result.outcome !== 'SUCCESS' && result.outcome !== 'SUCCESS_INVALID') {
      c.quarantined++;
      this.firstQuarantined ??= { line: rec.line, outcome: result.outcome };
      await this.quarantine.write(quarantineEntry({ line: rec.line, recordNo: rec.recordNo }, result, bytes, size));
    }
  }

  private async rows(result: TahoeRecordResult, recordNo: number): Promise<void> {
    const o = this.o;
    const rows = toRows(result, {
      tenant: o.tenant,
      objectSha256: o.objectSha256,
      recordNo,
      objectKey: o.objectKey,
      receivedAt: this.receivedAtIso,
      timezone: o.timezone,
      orgid: o.orgid,
    });
    const c = this.counts;
    // Edges are de-duplicated through the instances they hang from: an instance's cref/ref/mal_ref/ben_ref edges are
    // a function of its content, as are a raw's raw_ref edges, so a parent already written had its edges written
    // with it. A session's session_event edges vary (one per event joined to it): each goes with its event.
    const written = this.writtenParents;
    written.clear();
    if (rows.raw) {
      flatten(rows.raw.data);
      await this.raws.add(rows.raw);
      c.raws++;
      if (this.seen.raw.seen(rows.raw._hash, '')) written.add(rows.raw._hash);
    }
    for (const row of rows.instances) {
      const set =
        row.itype === 'event' ? this.seen.event : row.itype === 'session' ? this.seen.session : this.seen.node;
      // Any earlier row of a session carried its cref/ref edges; its times vary from record to record.
      if (row.itype === 'session' && set.has(row._hash)) written.add(row._hash);
      if (set.seen(row._hash, instanceVariant(row))) {
        written.add(row._hash);
        continue;
      }
      flatten(row.data);
      flatten(row.duration);
      await this.instances.add(row);
      c.instances++;
    }
    for (const row of rows.edges) {
      if (written.has(row.relation === 'session_event' ? row.child_hash : row.parent_hash)) continue;
      await this.edges.add(row);
      c.edges++;
    }
  }

  /** Writes the last parts and closes the quarantine file. Call once, after the last record. */
  async end(): Promise<StagedOutput> {
    await this.raws.end();
    await this.instances.end();
    await this.edges.end();
    const quarantined = await this.quarantine.end();
    const byPart = (a: StagedPart, b: StagedPart) => a.part - b.part;
    return {
      counts: { ...this.counts },
      parts: [
        ...this.staged.tahoe_raw.sort(byPart),
        ...this.staged.tahoe_instance.sort(byPart),
        ...this.staged.tahoe_edge.sort(byPart),
      ],
      quarantine: quarantined ? this.quarantine.path : undefined,
      firstQuarantined: this.firstQuarantined,
    };
  }

  /** Stops writing after a failure (the work folder is removed by the caller). */
  abort(): void {
    this.quarantine.abort();
  }
}
