// Hands turns to the pool. Messages that arrive together are batched: one piscina task
// carries the turns of many actors (each actor's in order), so the cost of crossing to a
// worker is shared. An actor is in at most one batch at a time, which is what keeps its
// turns one at a time; different actors in a batch run concurrently in the worker.

import { awaitsReply, type ActorCell, type Delivery } from './actor-cell.js';
import type { Clock } from './clock.js';
import { memoryReportOf, type MemoryReport } from './memory-watchdog.js';
import { progressBuffer, progressThread, runningTurns, type ActorResult, type BatchResult, type BatchTask, type TurnMessage } from './wire.js';

export interface DispatchedActor {
  /** Its place in the batch (the worker's `slot`). */
  slot: number;
  cell: ActorCell;
  deliveries: Delivery[];
  /** The batch runs the actor's `init` before its messages (after a restart). */
  init?: boolean;
}

/** What the kernel learns when a batch fails as a whole (its worker died or was terminated). */
export interface BatchFailure {
  cause: unknown;
  /** Per slot, the index of the turn that was running (0 = init, if asked) or -1. */
  running: number[];
  /** Slots whose running turn overran its time limit: the worker was terminated for them. */
  overdue: Set<number>;
  /** Set when the worker was terminated for its memory outside the heap (every turn it ran failed for it). */
  memory: MemoryReport | undefined;
}

export interface DispatcherOptions {
  run: (task: BatchTask) => Promise<BatchResult>;
  /** Terminates the worker thread with this id (a turn in it will not yield). */
  terminate: (threadId: number) => void;
  clock: Clock;
  /** Batches in flight at once (a few per worker keeps every worker fed). */
  maxInflight: number;
  /** Messages of one actor per batch. */
  maxTurnsPerActor: number;
  /** One actor's share of a batch has ended (early, or with the batch). */
  onResult: (actor: DispatchedActor, result: ActorResult) => void;
  onFailure: (actors: DispatchedActor[], failure: BatchFailure) => void;
  /** A turn overran its limit: the kernel aborts it (ctx.signal); if it does not yield, the worker is terminated. */
  onOverdue: (cell: ActorCell) => void;
  /** Called after every batch has been applied (waiters re-check their conditions). */
  onSettled: () => void;
  /** The policy version and rate allowance the worker checks an actor's intents with. */
  limits: (cell: ActorCell) => { policy: string; allowance: number; budgetsLeft?: number[] };
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
  private readonly batches = new Map<number, InFlight>();
  /** Batches whose turn waits on an ask: they use no CPU, so they do not count against maxInflight
   *  (otherwise a chain of asks deeper than the cap would wait for itself until it timed out). */
  private waiting = 0;
  private flushQueued = false;
  private batchSeq = 0;

  constructor(private readonly opts: DispatcherOptions) {}

  get idle(): boolean {
    return this.inflight === 0 && this.ready.length === 0;
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
    if (cell.queued || cell.busy || (cell.mailbox.size === 0 && !cell.needsInit) || cell.status !== 'running' || cell.suspended) return;
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
        if (cell.status !== 'running' || cell.suspended || (cell.mailbox.size === 0 && !cell.needsInit)) continue;
        cell.busy = true;
        actors.push({ slot: actors.length, cell, deliveries: cell.mailbox.take(this.opts.maxTurnsPerActor), init: cell.needsInit });
        cell.needsInit = false;
      }
      if (actors.length > 0) this.dispatch(actors);
    }
  }

  private dispatch(actors: DispatchedActor[]): void {
    const progress = progressBuffer(actors.length);
    const task: BatchTask = {
      kind: 'batch',
      batchId: this.batchSeq++,
      progress,
      actors: actors.map(({ cell, deliveries, init }, slot) => ({
        slot,
        self: cell.id,
        module: cell.module,
        state: init === true ? null : cell.state,
        init: init === true,
        ...(init === true && cell.config !== undefined ? { config: cell.config } : {}),
        messages: deliveries.map(toTurnMessage),
        ...this.opts.limits(cell),
      })),
    };
    const terminate = () => {
      const thread = progressThread(progress);
      if (thread > 0) this.opts.terminate(thread);
    };
    actors.forEach(({ cell }, slot) => (cell.batch = { progress, slot, terminate }));
    const batch: InFlight = {
      actors,
      pending: new Set(actors.map((a) => a.slot)),
      watchdog: new Watchdog(this.opts, actors, progress, terminate),
      completed: false,
    };
    this.batches.set(task.batchId, batch);
    this.inflight++;
    this.opts.run(task).then(
      (result) => {
        batch.completed = true;
        for (const r of result.actors) this.settleSlot(batch, r);
        // Early results of a multi-actor batch may still be in transit on the worker's own port.
        if (batch.pending.size === 0) this.finish(task.batchId, batch);
      },
      (cause: unknown) => {
        const failed = actors.filter((a) => batch.pending.has(a.slot));
        batch.pending.clear();
        try {
          this.opts.onFailure(failed, {
            cause,
            running: runningTurns(progress, actors.length).map((p) => (p.running ? p.started - 1 : -1)),
            overdue: batch.watchdog.overdue,
            memory: memoryReportOf(cause),
          });
        } finally {
          for (const a of failed) this.release(a.cell);
          this.finish(task.batchId, batch);
        }
      },
    );
  }

  /** One actor's share of a multi-actor batch ended before the batch did (see worker/entry.ts). */
  early(batchId: number, result: ActorResult): void {
    const batch = this.batches.get(batchId);
    if (batch === undefined) return;
    this.settleSlot(batch, result);
    if (batch.completed && batch.pending.size === 0) this.finish(batchId, batch);
  }

  private settleSlot(batch: InFlight, result: ActorResult): void {
    if (!batch.pending.delete(result.slot)) return;
    const actor = batch.actors[result.slot]!;
    try {
      this.opts.onResult(actor, result);
    } finally {
      this.release(actor.cell);
      this.opts.onSettled();
    }
  }

  private release(cell: ActorCell): void {
    cell.busy = false;
    cell.batch = undefined;
    this.wake(cell);
  }

  private finish(batchId: number, batch: InFlight): void {
    this.batches.delete(batchId);
    batch.watchdog.stop();
    this.inflight--;
    if (this.ready.length > 0 && !this.flushQueued) this.flush();
    this.opts.onSettled();
  }
}

interface InFlight {
  actors: DispatchedActor[];
  /** Slots whose results have not been applied yet. */
  pending: Set<number>;
  watchdog: Watchdog;
  /** The worker has returned the batch (its early results may still be in transit). */
  completed: boolean;
}

/**
 * Watches one batch's turns against their actors' time limits, on the injected clock. A turn
 * seen running the same turn for a whole limit is aborted (ctx.signal, and the worker ends
 * the turn); still running one check later, it must be stuck in synchronous code, and the
 * batch's worker is terminated. So a turn is aborted within [limit, 1.5 limit) and its worker
 * terminated half a limit after that.
 */
export class Watchdog {
  readonly overdue = new Set<number>();
  private readonly seen: { started: number; since: number; abortedAt: number | null }[];
  private readonly periodMs: number;
  private timer: ReturnType<Clock['setTimeout']> | undefined;

  constructor(
    private readonly opts: Pick<DispatcherOptions, 'clock' | 'onOverdue'>,
    private readonly actors: DispatchedActor[],
    private readonly progress: SharedArrayBuffer,
    private readonly terminate: () => void,
  ) {
    const limits = actors.map((a) => a.cell.turnTimeoutMs).filter((ms) => ms > 0);
    this.periodMs = limits.length === 0 ? 0 : Math.max(1, Math.floor(Math.min(...limits) / 2));
    const now = opts.clock.now();
    this.seen = actors.map(() => ({ started: 0, since: now, abortedAt: null }));
    this.arm();
  }

  stop(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    if (this.periodMs > 0) this.timer = this.opts.clock.setTimeout(() => this.check(), this.periodMs);
  }

  private check(): void {
    const now = this.opts.clock.now();
    const turns = runningTurns(this.progress, this.actors.length);
    for (let slot = 0; slot < turns.length; slot++) {
      const limit = this.actors[slot]!.cell.turnTimeoutMs;
      const turn = turns[slot]!;
      const seen = this.seen[slot]!;
      if (!turn.running || turn.started !== seen.started) {
        this.seen[slot] = { started: turn.started, since: now, abortedAt: null };
        continue;
      }
      if (limit === 0 || now - seen.since < limit) continue;
      if (seen.abortedAt === null) {
        seen.abortedAt = now;
        this.overdue.add(slot);
        this.opts.onOverdue(this.actors[slot]!.cell);
      } else if (now - seen.abortedAt >= this.periodMs) {
        this.terminate();
        return;
      }
    }
    this.arm();
  }
}
