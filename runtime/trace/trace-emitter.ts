// The kernel's side of the trace: a record for every envelope event and every decision,
// batched onto `<ns>.trace.<node>` (the batch being written: batch-rows.ts; wire form:
// trace-codec.ts), so recording costs little on the kernel thread. A message sent to an actor of
// the same node is recorded once, with its handling (owed-sends.ts).
//
// A handled row is written after the turn of the event loop that settled it (deferred rows):
// by then the kernel has handed the actor its next batch, so the writing overlaps the worker's
// run instead of delaying it. Any other record first writes the deferred rows, so a batch keeps
// the order things happened in.
//
// A batch is sealed when it is full, when the node goes idle (records go out as soon as the work
// that made them is done), or at the latest SEAL_MS after its first row (a busy node: fewer,
// bigger batches, so fewer messages, tracer turns, acks and hashes). The tracer acknowledges
// each batch. The clock's timer only bounds a busy batch's age: under a test's manual clock,
// batches still go out when the node is idle.

import type { Delivery } from '../actor-cell.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Envelope } from '../envelope.js';
import { BatchRows, type Handling } from './batch-rows.js';
import { OWED_MAX_MS, OwedSends } from './owed-sends.js';
import { recordedValue, type PayloadRecord, type PayloadRule } from './payloads.js';
import type { WireEvent } from './trace-codec.js';
import { TRACE_ANCHOR_TOOL, TRACE_APPEND_TOOL } from './tracer-tools.js';

export interface TraceSink {
  send(bytes: Uint8Array, records: number, batch: number): void;
}

/** Rows after which a batch is sealed at once. */
const MAX_ROWS = 4096;
/**
 * The longest a batch stays open while rows keep coming. Under load a batch is mostly sealed full
 * (half the message limit: about 2,600 handled rows). At 10 ms a slow machine sealed batches of
 * about 450 rows, and paid what each batch costs (its request, the tracer's turn, the ack, the
 * write) six times as often: trace-throughput read 0.67 at 10 ms against 0.75 at 100 ms, in five
 * paired runs.
 */
export const SEAL_MS = 100;

/** A tracer's allowed append to its stream, or anchor of its log, is trace traffic, never traced (each would make another batch). */
function isTraceAppend(record: object): boolean {
  const r = record as { type?: unknown; action?: unknown; target?: unknown; allow?: unknown };
  return r.type === 'decision' && r.action === 'call' && (r.target === TRACE_APPEND_TOOL || r.target === TRACE_ANCHOR_TOOL) && r.allow === true;
}

/** A handled row waiting to be written (reused: no garbage per row). */
interface DeferredRow {
  actor: string;
  d: Delivery | undefined;
  outcome: string;
  h: Handling;
}

export class TraceEmitter {
  private readonly rows = new BatchRows();
  /** Handled rows not yet written: those from `deferredNext` to `deferredCount`. */
  private readonly deferred: DeferredRow[] = [];
  private deferredCount = 0;
  private deferredNext = 0;
  private readonly writeDeferredSoon = (): void => {
    this.deferQueued = false;
    this.writeDeferred();
    if (this.rows.count > 0) this.schedule();
  };
  private deferQueued = false;
  /** Batch numbers only grow, across restarts of a node with the same id too (the tracer drops a number it has seen). */
  private batch: number;
  /** A wait for the node to be idle is under way (one at a time). */
  private awaitingIdle = false;
  private timer: TimerHandle | undefined;
  /** Local sends whose `sent` is written with their handling. */
  private readonly owed = new OwedSends();
  private readonly paySent = (d: Delivery): void => this.settleSent(d);
  /** Off only in benchmarks (the `tracing: false` option), to measure what tracing costs. */
  enabled = true;

  constructor(
    private readonly nodeId: string,
    private readonly clock: Clock,
    private readonly sink: TraceSink,
    private readonly maxBytes: number,
    /** Subjects whose messages are never traced: the trace's own (a batch handled by the tracer would make another). */
    private readonly untraced: (subject: string) => boolean = () => false,
    /** Resolves when the node has nothing left to do (default: at the end of this turn of the event loop). */
    private readonly whenIdle: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve)),
  ) {
    this.batch = Math.floor(clock.now() * 1000);
  }

  private now(): number {
    return this.clock.now();
  }

  /** One event of one envelope, at `actor` (the receiver, or the sender for `sent`). A message's handling is `handled`, below. */
  envelope(event: Exclude<WireEvent, 'turn' | 'handled'>, actor: string, env: Envelope, subject: string, outcome?: string, at = this.now()): void {
    if (!this.enabled || this.untraced(subject)) return;
    this.writeDeferred();
    this.rows.event(event, at, actor, env, subject, outcome);
    this.schedule();
  }

  /**
   * `d` (its `sentBy` set) was just put into the mailbox of an actor of this node: its `sent` is
   * written with its handling, as one row, or by settleSent if it ends otherwise.
   */
  sentHere(d: Delivery): void {
    if (d.sentBy === undefined) return; // already written (refused at once: settleSent)
    if (!this.enabled || this.untraced(d.subject) || d.sentBy !== d.env.from) {
      this.settleSent(d);
      return;
    }
    this.owed.push(d);
    this.schedule();
  }

  /** Writes `d`'s owed `sent` record on its own (it will not be handled, or not now); nothing when none is owed. */
  settleSent(d: Delivery): void {
    const by = d.sentBy;
    if (by === undefined) return;
    d.sentBy = undefined;
    this.envelope('sent', by, d.env, d.subject, undefined, d.env.sentAt);
  }

  /**
   * One message's handling at its receiver, as one row (an accepted message: sealed by a node, or
   * stamped here for an outside client, so its ids are the kernel's hex): received (at), turn started and finished
   * (offset and duration), replied (when the sender waited). The reader expands it into those events.
   */
  handled(actor: string, d: Delivery, outcome: string, startedAt: number | undefined, ms: number | undefined, replied: boolean): void {
    if (!this.enabled || this.untraced(d.subject)) return;
    // A send from this node is written here too (the row's `sentUs`).
    const sentHere = d.sentBy !== undefined;
    d.sentBy = undefined;
    let row = this.deferred[this.deferredCount];
    if (row === undefined) {
      row = { actor, d, outcome, h: { at: 0, startedAt, ms, replied, sentAt: undefined } };
      this.deferred.push(row);
    }
    this.deferredCount += 1;
    row.actor = actor;
    row.d = d;
    row.outcome = outcome;
    const h = row.h;
    h.at = d.receivedAt ?? startedAt ?? this.now();
    h.startedAt = startedAt;
    h.ms = ms;
    h.replied = replied;
    h.sentAt = sentHere ? d.env.sentAt : undefined;
    if (sentHere) this.owed.trim();
    if (!this.deferQueued) {
      this.deferQueued = true;
      setImmediate(this.writeDeferredSoon);
    }
  }

  /** Writes the deferred handled rows into the batch, in the order they came (sealing each batch that fills). */
  private writeDeferred(): void {
    while (this.deferredNext < this.deferredCount) {
      const row = this.deferred[this.deferredNext++]!;
      const d = row.d!;
      row.d = undefined;
      this.rows.handled(row.actor, d.env, d.subject, row.outcome, row.h);
      this.fullCheck();
    }
    this.deferredNext = 0;
    this.deferredCount = 0;
  }

  /**
   * The payload of a handled message, decoded and masked, when the policy in force records the
   * payloads of its subject. Nothing is decoded otherwise.
   */
  payload(actor: string, d: Delivery, rule: PayloadRule): void {
    if (!this.enabled || this.untraced(d.subject) || !rule.payloadsFor(d.subject)) return;
    const env = d.env;
    const record: PayloadRecord = {
      type: 'payload',
      at: d.receivedAt ?? this.now(),
      node: this.nodeId,
      id: env.id,
      correlationId: env.correlationId,
      actor,
      subject: d.subject,
      value: recordedValue(env, rule.mask),
    };
    this.other(record);
  }

  /** A decision, supervision or governance record (a plain object). */
  other(record: object): void {
    if (!this.enabled || isTraceAppend(record)) return;
    this.writeDeferred();
    this.rows.other(JSON.stringify(record));
    this.schedule();
  }

  /** Seals the batch if it is full; true if it did. */
  private fullCheck(): boolean {
    // Half the limit leaves room for the string table and the header.
    if (this.rows.count < MAX_ROWS && this.rows.bytesAtMost < this.maxBytes / 2) return false;
    this.sealBatch();
    return true;
  }

  private schedule(): void {
    if (this.fullCheck()) return;
    if (this.timer === undefined) this.timer = this.clock.setTimeout(this.onTimer, SEAL_MS);
    if (!this.awaitingIdle) {
      this.awaitingIdle = true;
      void this.whenIdle().then(this.onIdle);
    }
  }

  private readonly onIdle = (): void => {
    this.awaitingIdle = false;
    this.seal();
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    // A busy node: only sends that have waited long are written without their handling.
    this.writeDeferred();
    this.owed.settle(this.now() - OWED_MAX_MS, this.paySent);
    this.sealBatch();
    // Sends still owed are looked at again (the node may stay busy with work that is not traced).
    if (this.owed.size > 0) this.schedule();
  };

  /** Rows waiting for the next batch. */
  get pending(): number {
    return this.rows.count + this.deferredCount - this.deferredNext;
  }

  /** Seals what is pending into one batch and hands it to the sink, with every `sent` still owed (the node is idle, or stopping). */
  seal(): void {
    this.writeDeferred();
    this.owed.settle(Infinity, this.paySent);
    this.sealBatch();
  }

  private sealBatch(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const count = this.rows.count;
    if (count === 0) return;
    const batch = ++this.batch;
    this.sink.send(this.rows.take(this.nodeId, batch), count, batch);
  }
}
