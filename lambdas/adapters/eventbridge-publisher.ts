/**
 * `EventPublisher` on Amazon EventBridge: one `PutEvents` entry per processed object on the pipeline bus
 * (EVENT_BUS_NAME), source `cyberactive.process`, detail-type `ObjectProcessed`. The client is injected (built once
 * per container by the handler).
 *
 * PutEvents can succeed as a call and still refuse entries: the answer then has `FailedEntryCount > 0` and an
 * `ErrorCode` per refused entry (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html).
 * Publishing is at-least-once, so a refused entry is a TransientError: the message is retried (the ledger makes the
 * object's processing a no-op) rather than the event silently lost.
 *
 * How a failed call is classified (DESIGN.md §5):
 * - throttling, `InternalException`, 5xx, time-outs, network errors, anything unrecognised → TransientError.
 * - `AccessDeniedException`, `ResourceNotFoundException` (no such bus), KMS errors of the bus key,
 *   `ValidationException`, `UnrecognizedClientException` → ConfigError: the deployment is wrong (role, bus name,
 *   key policy); the handler fails the message loudly and it is redriven from the dead-letter queue after the fix.
 */
import { type EventBridgeClient, PutEventsCommand, type PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';
import type { EventPublisher, ObjectProcessedEvent } from '../process/ports';
import { ConfigError, TransientError } from '../shared/errors';

/** The pipeline event this publisher sends, as EventBridge rules match it. */
export const OBJECT_PROCESSED = { source: 'cyberactive.process', detailType: 'ObjectProcessed' } as const;

/**
 * EventBridge refuses entries over 256 KB (detail, detail-type, source, resources and time counted together). The
 * only part of the detail that grows with the object is its list of output keys; past this size it is dropped and
 * `outputCount` says how many there were (the ledger item holds them all).
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html
 */
export const MAX_DETAIL_BYTES = 200 * 1024;

const CONFIG = new Set([
  'AccessDeniedException',
  'ResourceNotFoundException',
  'ValidationException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'KMSAccessDeniedException',
  'KMSDisabledException',
  'KMSInvalidStateException',
  'KMSNotFoundException',
]);

interface AwsErrorShape {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Classifies an error thrown by `PutEvents`; see the module comment. */
export function classifyEventBridgeError(err: unknown, busName: string): TransientError | ConfigError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as AwsErrorShape;
  const name = e.name ?? 'Error';
  const what = `EventBridge PutEvents to ${busName}: ${name}${e.message ? `: ${e.message}` : ''}`;
  if (CONFIG.has(name) || name.startsWith('KMS')) {
    return new ConfigError(`${what} (check the bus name, the role's permissions and the bus key policy)`, {
      cause: err,
    });
  }
  return new TransientError(what, { cause: err });
}

/** The JSON detail of an event, small enough for one entry. */
export function eventDetail(event: ObjectProcessedEvent): string {
  const full = JSON.stringify(event);
  if (Buffer.byteLength(full) <= MAX_DETAIL_BYTES) return full;
  return JSON.stringify({ ...event, outputs: [], outputCount: event.outputs.length, outputsOmitted: true });
}

export interface EventBridgePublisherOptions {
  /** Name or ARN of the bus. */
  readonly eventBusName: string;
}

export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly options: EventBridgePublisherOptions,
  ) {}

  async publish(event: ObjectProcessedEvent): Promise<void> {
    const bus = this.options.eventBusName;
    let out: PutEventsCommandOutput;
    try {
      out = await this.client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: bus,
              Source: OBJECT_PROCESSED.source,
              DetailType: OBJECT_PROCESSED.detailType,
              Detail: eventDetail(event),
              // The event's time is when the object was processed, not when the entry happened to be sent.
              Time: new Date(event.processedAt),
            },
          ],
        }),
      );
    } catch (err) {
      throw classifyEventBridgeError(err, bus);
    }
    const failed = out.FailedEntryCount ?? 0;
    const entry = out.Entries?.[0];
    if (failed > 0 || entry?.ErrorCode) {
      throw new TransientError(
        `EventBridge PutEvents to ${bus} refused the ObjectProcessed entry: ${entry?.ErrorCode ?? 'unknown'}${
          entry?.ErrorMessage ? `: ${entry.ErrorMessage}` : ''
        }`,
      );
    }
  }
}
