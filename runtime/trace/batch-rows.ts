// The batch being written (wire form: trace-codec.ts): envelope events as JSON rows over a
// per-batch string table, written straight into bytes (row-bytes.ts), times as small integers
// (ms from the batch's t0, durations in whole µs), and other records as JSON text. `take`
// seals it into one message's bytes and starts the next.

import type { Envelope } from '../envelope.js';
import { ROW_LENGTH, TRACE_WIRE_VERSION, type WireEvent } from './trace-codec.js';
import { ascii, RowBytes } from './row-bytes.js';

const HEX = /^[0-9a-f]{1,64}$/;
const encoder = new TextEncoder();
const COMMA = 44;
const CLOSE = 93;
const NULL = ascii('null');
/** `,["event",` for each event a row can start with. */
const OPEN = Object.fromEntries(Object.keys(ROW_LENGTH).map((e) => [e, ascii(`,["${e}",`)])) as Record<WireEvent, Uint8Array>;

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

/** A message's handling at its receiver: the fields of a `handled` row after the ones every row has. */
export interface Handling {
  at: number;
  startedAt: number | undefined;
  ms: number | undefined;
  replied: boolean;
  /** When this node also sent it (the row then carries `sentUs`). */
  sentAt: number | undefined;
}

export class BatchRows {
  private strings = new Map<string, number>();
  private table: string[] = [];
  /** Per kind of row, the last route: rows of one kind mostly follow the same (reset with the table). */
  private routes = { sent: noRoute(), handled: noRoute(), other: noRoute() };
  /** The last outcome looked up, and its index. */
  private lastOutcome: string | undefined;
  private lastOutcomeIndex = 0;
  /** The rows, as UTF-8 JSON (each after a comma). */
  private readonly out = new RowBytes();
  private rows = 0;
  private others: string[] = [];
  /** Characters of the other records (the rows' bytes are `out.end`). */
  private chars = 0;
  /** The batch's time origin: its rows' times are ms after it. */
  private t0 = 0;

  /** Rows and records in the batch. */
  get count(): number {
    return this.rows + this.others.length;
  }

  /** The most bytes the batch could take so far (before its string table and header). */
  get bytesAtMost(): number {
    return this.out.end + 3 * this.chars;
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

  /**
   * One event of one envelope, at `actor`. A send is of an envelope the kernel just made (ids from
   * workers are checked at the pool); other events may be about a message refused as forged,
   * whose ids a client chose.
   */
  event(event: Exclude<WireEvent, 'turn' | 'handled'>, at: number, actor: string, env: Envelope, subject: string, outcome: string | undefined): void {
    this.head(OPEN[event], at, event === 'sent' ? this.routes.sent : this.routes.other, actor, env, subject, event === 'sent', outcome);
    const o = this.out;
    o.lit(NULL);
    o.byte(COMMA);
    o.num(env.attempt);
    o.byte(CLOSE);
    this.rows += 1;
  }

  /** One message's handling at its receiver (an accepted message, so its ids are the kernel's hex). */
  handled(actor: string, env: Envelope, subject: string, outcome: string, h: Handling): void {
    this.head(OPEN.handled, h.at, this.routes.handled, actor, env, subject, true, outcome);
    const o = this.out;
    if (h.ms === undefined) o.lit(NULL);
    else o.num(Math.round(h.ms * 1000));
    o.byte(COMMA);
    o.num(env.attempt);
    o.byte(COMMA);
    if (h.startedAt === undefined) o.lit(NULL);
    else o.num(Math.round((h.startedAt - h.at) * 1000));
    o.byte(COMMA);
    o.byte(h.replied ? 49 : 48);
    if (h.sentAt !== undefined) {
      o.byte(COMMA);
      o.num(Math.round((h.at - h.sentAt) * 1000));
    }
    o.byte(CLOSE);
    this.rows += 1;
  }

  /** A decision, supervision or governance record, as JSON text. */
  other(text: string): void {
    this.others.push(text);
    this.chars += text.length;
  }

  /** The batch's bytes (its own memory, kept by the sink until acknowledged); the next batch starts empty. */
  take(node: string, batch: number): Uint8Array {
    const head = encoder.encode(`{"v":${TRACE_WIRE_VERSION},"node":${JSON.stringify(node)},"batch":${batch},"t0":${this.t0},"strings":${JSON.stringify(this.table)},"events":[`);
    const tail = encoder.encode(`],"records":[${this.others.join(',')}]}`);
    // The first row's leading comma is left out.
    const rows = this.out.buf.subarray(this.out.end > 0 ? 1 : 0, this.out.end);
    // Not zeroed: every byte is written below.
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
    return bytes;
  }
}
