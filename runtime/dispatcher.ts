// Hands turns to the pool. Messages that arrive together are batched: one piscina task
// carries the turns of many actors (each actor's in order), so the cost of crossing to a
// worker is shared. An actor is in at most one batch at a time, which is what keeps its
// turns one at a time; different actors in a batch run concurrently in the worker.

import { awaitsReply, type ActorCell, type Delivery } from './actor-cell.js';
import type { BatchResult, BatchTask, TurnMessage } from './wire.js';

export interface DispatchedActor {
  cell: ActorCell;
  deliveries: Delivery[];
}

export interface DispatcherOptions {
  run: (task: BatchTask) => Promise<BatchResult>;
  /** Batches in flight at once (a few per worker keeps every worker fed). */
  maxInflight: number;
  /** Messages of one actor per batch. */
  maxTurnsPerActor: number;
  turnTimeoutMs: number;
  onResult: (actors: DispatchedActor[], result: BatchResult) => void;
  onFailure: (actors: DispatchedActor[], err: unknown) => void;
  /** Called after every batch has been applied (waiters re-check their conditions). */
  onSettled: () => void;
}

export function toTurnMessage(d: Delivery): TurnMessage {
  const e = d.env;
  const m: TurnMessage = {
    id: e.id,
    kind: e.kind,
    from: e.from,
    subject: d.subject,
    correlationId: e.correlationId,
    causationId: e.causationId,
    format: e.format,
    payload: e.payload,
    expectsReply: awaitsReply(d),
    attempt: e.attempt,
  };
  if (e.deadline !== undefined) m.deadline = e.deadline;
  return m;
}

export class Dispatcher {
  private readonly ready: ActorCell[] = [];
  private inflight = 0;
  /** Batches whose turn waits on an ask: they use no CPU, so they do not count against maxInflight
   *  (otherwise a chain of asks deeper than the cap would wait for itself until it timed out). */
  private waiting = 0;
  private flushQueued = false;
  private batchSeq = 0;

  constructor(private readonly opts: DispatcherOptions) {}

  get idle(): boolean {
    return this.inflight === 0 && this.ready.length === 0;
  }

  get batchesInFlight(): number {
    return this.inflight;
  }

  /** A turn of an in-flight batch started (+1) or finished (-1) waiting on an ask. */
  waitingOnAsk(delta: 1 | -1): void {
    this.waiting += delta;
    if (delta === 1 && this.ready.length > 0 && !this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private get capacity(): number {
    return this.opts.maxInflight + this.waiting - this.inflight;
  }

  /** Marks a cell as having work; it is dispatched on the next flush unless already busy. */
  wake(cell: ActorCell): void {
    if (cell.queued || cell.busy || cell.mailbox.size === 0 || cell.status !== 'running') return;
    cell.queued = true;
    this.ready.push(cell);
    if (!this.flushQueued) {
      this.flushQueued = true;
      // After the current burst of inbound messages (one socket read) has been queued.
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    while (this.ready.length > 0 && this.capacity > 0) {
      const free = this.capacity;
      const perBatch = Math.ceil(this.ready.length / free);
      const cells = this.ready.splice(0, perBatch);
      const actors: DispatchedActor[] = [];
      for (const cell of cells) {
        cell.queued = false;
        if (cell.status !== 'running' || cell.mailbox.size === 0) continue;
        cell.busy = true;
        actors.push({ cell, deliveries: cell.mailbox.take(this.opts.maxTurnsPerActor) });
      }
      if (actors.length > 0) this.dispatch(actors);
    }
  }

  private dispatch(actors: DispatchedActor[]): void {
    const task: BatchTask = {
      kind: 'batch',
      batchId: this.batchSeq++,
      turnTimeoutMs: this.opts.turnTimeoutMs,
      actors: actors.map(({ cell, deliveries }, slot) => ({
        slot,
        self: cell.id,
        module: cell.module,
        state: cell.state,
        init: false,
        messages: deliveries.map(toTurnMessage),
      })),
    };
    this.inflight++;
    this.opts.run(task).then(
      (result) => this.settle(actors, () => this.opts.onResult(actors, result)),
      (err: unknown) => this.settle(actors, () => this.opts.onFailure(actors, err)),
    );
  }

  private settle(actors: DispatchedActor[], apply: () => void): void {
    this.inflight--;
    try {
      apply();
    } finally {
      for (const { cell } of actors) {
        cell.busy = false;
        this.wake(cell);
      }
      if (this.ready.length > 0 && !this.flushQueued) this.flush();
      this.opts.onSettled();
    }
  }
}
