/**
 * Keeps a ledger lease alive while an object is processed: a heartbeat every third of the lease, so that two
 * heartbeats can fail (throttling, a slow call) before the lease runs out and another worker may take over.
 *
 * When the ledger answers that the lease is no longer ours (it expired and another worker took the object, or it
 * was finished), the keeper calls `onLost` once, so that the worker stops reading and discards what it staged: the
 * new owner produces the same output. A heartbeat that fails is not fatal — the next tick tries again, and if the
 * lease does run out, `complete` (or the next heartbeat) says so.
 *
 * Timers run on wall time (how long the work really takes); the times written to the ledger come from the
 * injected clock, like every other ledger write.
 */
import type { HeartbeatResult, ObjectRef } from '../ledger/model';
import type { Ledger } from '../ledger/port';

export interface LeaseKeeperOptions {
  readonly ledger: Ledger;
  readonly ref: ObjectRef;
  readonly owner: string;
  readonly leaseMs: number;
  readonly clock: () => Date;
  /** Called once, when a heartbeat finds the lease gone. */
  readonly onLost: (answer: Extract<HeartbeatResult, { kind: 'lost' }>) => void;
}

export class LeaseKeeper {
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private lostAnswer: Extract<HeartbeatResult, { kind: 'lost' }> | undefined;

  constructor(private readonly options: LeaseKeeperOptions) {}

  /** The ledger's answer when the lease was found lost; undefined while it is held. */
  get lost(): Extract<HeartbeatResult, { kind: 'lost' }> | undefined {
    return this.lostAnswer;
  }

  start(): void {
    const every = Math.max(1, Math.floor(this.options.leaseMs / 3));
    this.timer = setInterval(() => this.beat(), every);
    // A pending heartbeat must not keep a process (the CLI, a test) alive once the work is done.
    this.timer.unref();
  }

  /** Stops the heartbeats and waits for one in flight, so that it cannot land after `complete`. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  private beat(): void {
    if (this.inFlight || this.lostAnswer) return;
    const { ledger, ref, owner, leaseMs, clock } = this.options;
    this.inFlight = ledger
      .heartbeat(ref, owner, clock(), leaseMs)
      .then((answer) => {
        if (answer.kind === 'lost' && !this.lostAnswer) {
          this.lostAnswer = answer;
          if (this.timer) clearInterval(this.timer);
          this.options.onLost(answer);
        }
      })
      .catch(() => {
        // Tried again at the next tick; see the module comment.
      })
      .finally(() => {
        this.inFlight = undefined;
      });
  }
}
