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
import { TRACE_WIRE_VERSION, type WireEvent } from './trace-codec.js';
import { TRACE_APPEND_TOOL } from './tracer-tools.js';

export interface TraceSink {
  send(bytes: Uint8Array, records: number, batch: number): void;
}

/** Rows after which a batch is sealed at once. */
const MAX_ROWS = 4096;
/** Rows written into a batch's buffer at once. */
const CHUNK_ROWS = 64;
/** The longest a batch stays open while rows keep coming. */
export const SEAL_MS = 10;
const HEX = /^[0-9a-f]{1,64}$/;
const encoder = new TextEncoder();

/** Node's own Buffer#utf8Write (what Buffer#write calls after checking its arguments), where there is one. */
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write?: (s: string, offset: number) => number }).utf8Write;
const utf8Write: (buf: Buffer, text: string, offset: number) => number =
  nativeUtf8Write === undefined ? (buf, text, offset) => buf.write(text, offset) : (buf, text, offset) => nativeUtf8Write.call(buf, text, offset);

/** Any id, quoted as JSON (for ids that may not be ours). */
function q(s: string): string {
  return HEX.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** An id the kernel made or accepted from a sealed envelope (validated hex). */
function hex(s: string): string {
  return `"${s}"`;
}

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
  /** The rows pending, as UTF-8 JSON (each after a comma), in `buf` up to `end`. */
  private buf = Buffer.allocUnsafe(64 * 1024);
  private end = 0;
  /** Rows not yet written into `buf`, and their characters. */
  private chunk: string[] = [];
  private chunkChars = 0;
  private rows = 0;
  private others: string[] = [];
  /** Batch numbers only grow, across restarts of a node with the same id too (the tracer drops a number it has seen). */
  private batch: number;
  /** Characters of the records pending (the rows' bytes are `end`): a batch is sealed before it could pass the node's message limit. */
  private chars = 0;
  /** The batch's time origin: its rows' times are ms after it. */
  private t0 = 0;
  /** A wait for the node to be idle is under way (one at a time). */
  private awaitingIdle = false;
  private timer: TimerHandle | undefined;
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

  /** One event of one envelope, at `actor` (the receiver, or the sender for `sent`). A message's handling is `handled`, below. */
  envelope(event: Exclude<WireEvent, 'turn' | 'handled'>, actor: string, env: Envelope, subject: string, outcome?: string): void {
    if (!this.enabled || this.untraced(subject)) return;
    // A send is of an envelope the kernel just made (ids from workers are checked at the pool): hex.
    // Other events may be about a message refused as forged, whose ids a client chose: quoted properly.
    const quote = event === 'sent' ? hex : q;
    const cause = env.causationId === null ? 'null' : quote(env.causationId);
    const route = this.route(event === 'sent' ? this.routes.sent : this.routes.other, actor, env, subject);
    this.row(
      `,["${event}",${this.dt(this.now())},${route},${quote(env.id)},${quote(env.correlationId)},${cause},${env.payload.length},${outcome === undefined ? 'null' : this.outcome(outcome)},null,${env.attempt}]`,
    );
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
    const start = startedAt === undefined ? 'null' : Math.round((startedAt - at) * 1000);
    const cause = env.causationId === null ? 'null' : hex(env.causationId);
    this.row(
      `,["handled",${this.dt(at)},${this.route(this.routes.handled, actor, env, d.subject)},${hex(env.id)},${hex(env.correlationId)},${cause},${env.payload.length},${this.outcome(outcome)},${ms === undefined ? 'null' : Math.round(ms * 1000)},${env.attempt},${start},${replied ? 1 : 0}]`,
    );
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

  private row(text: string): void {
    // Rows are written into the buffer some at a time: each a short-lived string, and one write for them all.
    this.chunk.push(text);
    this.chunkChars += text.length;
    this.rows += 1;
    if (this.chunk.length >= CHUNK_ROWS) this.flushChunk();
    this.schedule();
  }

  /** Writes the rows not yet in the buffer into it. */
  private flushChunk(): void {
    if (this.chunk.length === 0) return;
    const text = this.chunk.join('');
    this.chunk = [];
    this.chunkChars = 0;
    // A row is ASCII but for ids a client forged (quoted with JSON.stringify): 3 bytes a character at most.
    if (this.end + text.length * 3 > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.end + text.length * 3));
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
    }
    this.end += utf8Write(this.buf, text, this.end);
  }

  private schedule(): void {
    // Half the limit leaves room for the string table and the header.
    if (this.rows + this.others.length >= MAX_ROWS || this.end + 3 * (this.chars + this.chunkChars) >= this.maxBytes / 2) {
      this.seal();
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
    this.seal();
  };

  /** Rows waiting for the next batch. */
  get pending(): number {
    return this.rows + this.others.length;
  }

  /** Seals what is pending into one batch and hands it to the sink. */
  seal(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    const count = this.rows + this.others.length;
    if (count === 0) return;
    this.flushChunk();
    const batch = ++this.batch;
    const head = encoder.encode(`{"v":${TRACE_WIRE_VERSION},"node":${JSON.stringify(this.nodeId)},"batch":${batch},"t0":${this.t0},"strings":${JSON.stringify(this.table)},"events":[`);
    const tail = encoder.encode(`],"records":[${this.others.join(',')}]}`);
    // The first row's leading comma is left out.
    const rows = this.buf.subarray(this.end > 0 ? 1 : 0, this.end);
    const bytes = new Uint8Array(head.length + rows.length + tail.length);
    bytes.set(head, 0);
    bytes.set(rows, head.length);
    bytes.set(tail, head.length + rows.length);
    this.strings = new Map();
    this.table = [];
    this.routes = { sent: noRoute(), handled: noRoute(), other: noRoute() };
    this.lastOutcome = undefined;
    this.end = 0;
    this.rows = 0;
    this.others = [];
    this.chars = 0;
    this.sink.send(bytes, count, batch);
  }
}
