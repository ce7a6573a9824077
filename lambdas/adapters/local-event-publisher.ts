/**
 * Local twins of the EventBridge publisher: the local runtime appends each event as one JSON line to a file under
 * its data folder (shaped like the event EventBridge would deliver to a rule's target, so that `jq` filters written
 * against one work on the other); unit tests keep them in memory.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EventPublisher, ObjectProcessedEvent } from '../process/ports';
import { OBJECT_PROCESSED } from './eventbridge-publisher';

/** One line of the events file: the envelope EventBridge puts around a detail (the fields a local reader needs). */
export interface LocalEventLine {
  readonly source: typeof OBJECT_PROCESSED.source;
  readonly 'detail-type': typeof OBJECT_PROCESSED.detailType;
  readonly time: string;
  readonly detail: ObjectProcessedEvent;
}

/** Events collected in memory, in publishing order. */
export class MemoryEventPublisher implements EventPublisher {
  readonly events: ObjectProcessedEvent[] = [];

  async publish(event: ObjectProcessedEvent): Promise<void> {
    this.events.push(structuredClone(event));
  }
}

/** The events file of a local data folder. */
export const LOCAL_EVENTS_FILE = 'events.jsonl';

/**
 * Appends events to a JSON Lines file. Each event is written by one `appendFile` (O_APPEND), so lines from several
 * processes of the local runtime do not interleave.
 */
export class FileEventPublisher implements EventPublisher {
  private ready: Promise<unknown> | undefined;

  constructor(readonly path: string) {}

  async publish(event: ObjectProcessedEvent): Promise<void> {
    this.ready ??= mkdir(dirname(this.path), { recursive: true });
    await this.ready;
    const line: LocalEventLine = {
      source: OBJECT_PROCESSED.source,
      'detail-type': OBJECT_PROCESSED.detailType,
      time: event.processedAt,
      detail: event,
    };
    await appendFile(this.path, `${JSON.stringify(line)}\n`);
  }

  /** Every event written so far (none if the file does not exist yet). A torn last line is skipped. */
  async read(): Promise<LocalEventLine[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const lines: LocalEventLine[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        lines.push(JSON.parse(line) as LocalEventLine);
      } catch {
        // A line cut short by a crash mid-write: skipped rather than failing every later read.
      }
    }
    return lines;
  }
}
