// The kernel's side of the trace: a record for every envelope event and every decision,
// batched onto `<ns>.trace.<node>` (wire form: trace-codec.ts). Rows are written as JSON text
// over a per-batch string table, times as small integers (ms from the batch's t0, durations in
// whole µs), written into the batch's buffer a few dozen at a time (no row's string lives on
// until the batch is sealed), so recording costs little on the kernel thread.
//
// A batch is sealed when it is full, when the node goes idle (records go out as soon as the work
// that made them is done), or at the latest SEAL_MS after its first row (a busy node: fewer,
// bigger batches, so fewer messages, tracer turns, acks and hashes). The tracer acknowledges
// each batch. The clock's timer only bounds a busy batch's age: under a test's manual clock,
// batches still go out when the node is idle.

import type { Delivery } from '../actor-cell.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { Envelope } from '../envelope.js';
import { recordedValue, type PayloadRecord, type PayloadRule } from './payloads.js';
import { ROW_LENGTH, TRACE_WIRE_VERSION, type WireEvent } from './trace-codec.js';
import { ascii, RowBytes } from './row-bytes.js';
import { TRACE_APPEND_TOOL } from './tracer-tools.js';
import { OWED_MAX_MS, OwedSends } from './owed-sends.js';

export interface TraceSink {
  send(bytes: Uint8Array, records: number, batch: number): void;
}

/** Rows after which a batch is sealed at once. */
const MAX_ROWS = 4096;
/** The longest a batch stays open while rows keep coming. */
export const SEAL_MS = 10;
const HEX = /^[0-9a-f]{1,64}$/;
const encoder = new TextEncoder();
const COMMA = 44;
const CLOSE = 93;
const NULL = ascii('null');
/** `,["event",` for each event a row can start with. */
const OPEN = Object.fromEntries(Object.keys(ROW_LENGTH).map((e) => [e, ascii(`,["${e}",`)])) as Record<WireEvent, Uint8Array>;

/** A tracer's allowed append to its stream is trace traffic, never traced (each append would make another batch). */
function isTraceAppend(record: object): boolean {
  const r = record as { type?: unknown; action?: unknown; target?: unknown; allow?: unknown };
  return r.type === 'decision' && r.action === 'call' && r.target === TRACE_APPEND_TOOL && r.allow === true;
}

/** The last route (actor, kind, from, to, subject) of one kind of row, and its string indexes as row text. */
interface Route {
  actor: string | undefined;
  kind: string;
  from: string;
  to: string;
  subject: string;
  text: string;
}

const noRoute = (): Route => ({ actor: undefined, kind: '', from: '', to: '', subject: '', text: '' });

export class TraceEmitter {
  private strings = new Map<string, number>();
  private table: string[] = [];
  /** Per kind of row, the last route: rows of one kind mostly follow the same (reset with the table). */
  private routes = { sent: noRoute(), handled: noRoute(), other: noRoute() };
  /** The last outcome looked up, and its index. */
  private lastOutcome: string | undefined;
  private lastOutcomeIndex = 0;
  /** The rows pending, as UTF-8 JSON (each after a comma). */
  private readonly out = new RowBytes();
  private rows = 0;
  private others: string[] = [];
  /** Batch numbers only grow, across restarts of a node with the same id too (the tracer drops a number it has seen). */
  private batch: number;
  /** Characters of the records pending (the rows' bytes are `out.end`): a batch is sealed before it could pass the node's message limit. */
  private chars = 0;
  /** The batch's time origin: its rows' times are ms after it. */
  private t0 = 0;
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

  /** The string's index in the batch's table. */
  private s(value: string): number {
    let i = this.strings.get(value);
    if (i === undefined) {
      i = this.table.length;
      this.table.push(value);
      this.strings.set(value, i);
    }
    return i;
  }

  private outcome(value: string): number {
    if (value !== this.lastOutcome) {
      this.lastOutcome = value;
      this.lastOutcomeIndex = this.s(value);
    }
    return this.lastOutcomeIndex;
  }

  /** `actor,kind,from,to,subject` as string indexes: five compares when the route is the last one of its kind of row. */
  private route(r: Route, actor: string, env: Envelope, subject: string): string {
    if (actor !== r.actor || env.kind !== r.kind || env.from !== r.from || env.to !== r.to || subject !== r.subject) {
      r.actor = actor;
      r.kind = env.kind;
      r.from = env.from;
      r.to = env.to;
      r.subject = subject;
      r.text = `${this.s(actor)},${this.s(env.kind)},${this.s(env.from)},${this.s(env.to)},${this.s(subject)}`;
    }
    return r.text;
  }

  /** The time of a row: ms after the batch's t0 (set by its first row). */
  private dt(at: number): number {
    if (this.rows === 0) this.t0 = Math.floor(at);
    return at - this.t0;
  }

  /** An id, quoted: as it is when the kernel made it or took it from a sealed envelope (`ours`), else checked to be hex or escaped as JSON. */
  private id(s: string, ours: boolean): void {
    if (ours ? s.length <= 64 : HEX.test(s)) this.out.hex(s);
    else this.out.text(JSON.stringify(s));
  }

  /**
   * The fields every row starts with, after its `,["event",`: dt, actor, kind, from, to,
   * subject, id, correlationId, causationId, size, outcome (index or null), and a comma.
   */
  private head(open: Uint8Array, at: number, route: Route, actor: string, env: Envelope, subject: string, ours: boolean, outcome: string | undefined): void {
    const o = this.out;
    o.room();
    o.lit(open);
    o.num(this.dt(at));
    o.byte(COMMA);
    o.raw(this.route(route, actor, env, subject));
    o.byte(COMMA);
    this.id(env.id, ours);
    o.byte(COMMA);
    this.id(env.correlationId, ours);
    o.byte(COMMA);
    if (env.causationId === null) o.lit(NULL);
    else this.id(env.causationId, ours);
    o.byte(COMMA);
    o.num(env.payload.length);
    o.byte(COMMA);
    if (outcome === undefined) o.lit(NULL);
    else o.num(this.outcome(outcome));
    o.byte(COMMA);
  }

  /** One event of one envelope, at `actor` (the receiver, or the sender for `sent`). A message's handling is `handled`, below. */
  envelope(event: Exclude<WireEvent, 'turn' | 'handled'>, actor: string, env: Envelope, subject: string, outcome?: string, at = this.now()): void {
    if (!this.enabled || this.untraced(subject)) return;
    // A send is of an envelope the kernel just made (ids from workers are checked at the pool): ours.
    // Other events may be about a message refused as forged, whose ids a client chose.
    this.head(OPEN[event], at, event === 'sent' ? this.routes.sent : this.routes.other, actor, env, subject, event === 'sent', outcome);
    const o = this.out;
    o.lit(NULL);
    o.byte(COMMA);
    o.num(env.attempt);
    o.byte(CLOSE);
    this.rowDone();
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
    const env = d.env;
    const at = d.receivedAt ?? startedAt ?? this.now();
    this.head(OPEN.handled, at, this.routes.handled, actor, env, d.subject, true, outcome);
    const o = this.out;
    if (ms === undefined) o.lit(NULL);
    else o.num(Math.round(ms * 1000));
    o.byte(COMMA);
    o.num(env.attempt);
    o.byte(COMMA);
    if (startedAt === undefined) o.lit(NULL);
    else o.num(Math.round((startedAt - at) * 1000));
    o.byte(COMMA);
    o.byte(replied ? 49 : 48);
    // A send from this node is written here too: `sentUs` before `received` (a 17th field).
    if (d.sentBy !== undefined) {
      d.sentBy = undefined;
      o.byte(COMMA);
      o.num(Math.round((at - env.sentAt) * 1000));
      this.owed.trim();
    }
    o.byte(CLOSE);
    this.rowDone();
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
    const text = JSON.stringify(record);
    this.others.push(text);
    this.chars += text.length;
    this.schedule();
  }

  private rowDone(): void {
    this.rows += 1;
    this.schedule();
  }

  private schedule(): void {
    // Half the limit leaves room for the string table and the header.
    if (this.rows + this.others.length >= MAX_ROWS || this.out.end + 3 * this.chars >= this.maxBytes / 2) {
      this.sealBatch();
      return;
    }
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
    this.owed.settle(this.now() - OWED_MAX_MS, this.paySent);
    this.sealBatch();
    // Sends still owed are looked at again (the node may stay busy with work that is not traced).
    if (this.owed.size > 0) this.schedule();
  };

  /** Rows waiting for the next batch. */
  get pending(): number {
    return this.rows + this.others.length;
  }

  /** Seals what is pending into one batch and hands it to the sink, with every `sent` still owed (the node is idle, or stopping). */
  seal(): void {
    this.owed.settle(Infinity, this.paySent);
    this.sealBatch();
  }

  private sealBatch(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const count = this.rows + this.others.length;
    if (count === 0) return;
    const batch = ++this.batch;
    const head = encoder.encode(`{"v":${TRACE_WIRE_VERSION},"node":${JSON.stringify(this.nodeId)},"batch":${batch},"t0":${this.t0},"strings":${JSON.stringify(this.table)},"events":[`);
    const tail = encoder.encode(`],"records":[${this.others.join(',')}]}`);
    // The first row's leading comma is left out.
    const rows = this.out.buf.subarray(this.out.end > 0 ? 1 : 0, this.out.end);
    // Its own memory, not zeroed (every byte is written below), kept by the sink until acknowledged.
    const bytes = Buffer.allocUnsafeSlow(head.length + rows.length + tail.length);
    bytes.set(head, 0);
    bytes.set(rows, head.length);
    bytes.set(tail, head.length + rows.length);
    this.strings = new Map();
    this.table = [];
    this.routes = { sent: noRoute(), handled: noRoute(), other: noRoute() };
    this.lastOutcome = undefined;
    this.out.reset();
    this.rows = 0;
    this.others = [];
    this.chars = 0;
    this.sink.send(bytes, count, batch);
  }
}
