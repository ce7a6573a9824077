/**
 * `cyberactive tahoe`: runs records through parsemain and the TAHOE filters, offline, and prints one JSON line
 * per record in the format of the golden vectors (raw, raw_after, outcome, error, instances, edges), written
 * the way Python's json.dumps writes them. Reads a file or stdin as a stream; NDJSON typetags are split per
 * line, the others are one record per input.
 */
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { dumps } from '../../tahoe/json';
import { DEFAULT_TAHOE_LIMITS, oversizeResult, parsemain, type TahoeLimits } from '../../tahoe/parsemain';
import { framingFor, RecordSplitter, type SplitRecord } from '../../tahoe/records';
import { fromIsoFormat, isoTimestamp } from '../../tahoe/time';
import { outcomeText, recordReport } from '../../tahoe/view';
import { type CliIo, type Command, UsageError } from '../io';

const USAGE =
  'cyberactive tahoe --typetag T --orgid O --timezone Z [--received-at ISO|epoch-seconds] [--enabled t1,t2]' +
  ' [--max-record-bytes N] [--max-document-bytes N] [file|-]';

/** Epoch seconds (read as Python reads a float) or an ISO 8601 time; a time without zone is UTC. */
export function parseReceivedAt(text: string): number {
  if (/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(text)) return Number(text);
  try {
    return isoTimestamp(fromIsoFormat(text.replaceAll('Z', '+00:00')));
  } catch {
    throw new UsageError(`--received-at: not epoch seconds or an ISO 8601 time: ${text}`);
  }
}

function positiveInt(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(text)) throw new UsageError(`--${name}: expected a positive integer, got ${text}`);
  return Number(text);
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        typetag: { type: 'string' },
        orgid: { type: 'string' },
        timezone: { type: 'string' },
        'received-at': { type: 'string' },
        enabled: { type: 'string' },
        'max-record-bytes': { type: 'string' },
        'max-document-bytes': { type: 'string' },
      },
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

async function write(io: CliIo, text: string): Promise<void> {
  if (!io.stdout.write(text)) await once(io.stdout, 'drain');
}

export const command: Command = {
  summary: 'parse records into TAHOE raws, instances and edges (JSON lines)',
  usage: USAGE,
  async run(argv, io) {
    const { values, positionals } = parse(argv);
    const { typetag, orgid, timezone } = values;
    if (typetag === undefined) throw new UsageError('--typetag is required');
    if (orgid === undefined) throw new UsageError('--orgid is required');
    if (timezone === undefined) throw new UsageError('--timezone is required');
    if (positionals.length > 1) throw new UsageError('expected at most one input file');
    const receivedAt =
      values['received-at'] === undefined ? io.now().getTime() / 1000 : parseReceivedAt(values['received-at']);
    const enabledTypetags =
      values.enabled === undefined
        ? undefined
        : new Set(
            values.enabled
              .split(',')
              .map((t) => t.trim())
              .filter((t) => t !== ''),
          );
    const limits: TahoeLimits = {
      ...DEFAULT_TAHOE_LIMITS,
      maxRecordBytes:
        positiveInt('max-record-bytes', values['max-record-bytes']) ?? DEFAULT_TAHOE_LIMITS.maxRecordBytes,
      maxDocumentBytes:
        positiveInt('max-document-bytes', values['max-document-bytes']) ?? DEFAULT_TAHOE_LIMITS.maxDocumentBytes,
    };

    const file = positionals[0];
    const input: Readable = file === undefined || file === '-' ? io.stdin : createReadStream(resolve(io.cwd, file));
    const splitter = new RecordSplitter(framingFor(typetag), limits);
    const counts = new Map<string, number>();

    const handle = async (rec: SplitRecord) => {
      const result =
        'tooLarge' in rec
          ? oversizeResult(rec.tooLarge.size, rec.tooLarge.limit)
          : parsemain(typetag, orgid, timezone, rec.bytes, { receivedAt, enabledTypetags, limits });
      const outcome = outcomeText(result);
      const key = outcome.startsWith('error') ? 'error' : outcome;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      await write(io, `${dumps(recordReport(result, { line: rec.line }))}\n`);
    };

    for await (const chunk of input) {
      for (const rec of splitter.push(chunk as Buffer)) await handle(rec);
    }
    for (const rec of splitter.end()) await handle(rec);

    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    io.stderr.write(
      `tahoe: ${total} record(s): ${counts.get('ok') ?? 0} ok, ${counts.get('raw_only') ?? 0} raw_only, ` +
        `${counts.get('error') ?? 0} error\n`,
    );
    return 0;
  },
};
