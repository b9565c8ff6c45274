// The kernel's side of the trace: a record for every envelope event and every decision,
// batched onto `<ns>.trace.<node>` (wire form: trace-codec.ts). Rows are written as JSON text
// over a per-batch string table, so recording costs little on the kernel thread. What is
// recorded during one turn of the event loop goes out as one batch; the tracer acknowledges it.

import type { Delivery } from '../actor-cell.js';
import type { Envelope } from '../envelope.js';
import { recordedValue, type PayloadRecord, type PayloadRule } from './payloads.js';
import { TRACE_WIRE_VERSION, type WireEvent } from './trace-codec.js';

export interface TraceSink {
  send(bytes: Uint8Array, records: number, batch: number): void;
}

/** Rows after which a batch is sealed at once. */
const MAX_ROWS = 1024;
const HEX = /^[0-9a-f]{1,64}$/;
const encoder = new TextEncoder();

/** Any id, quoted as JSON (for ids that may not be ours). */
function q(s: string): string {
  return HEX.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** An id the kernel made or accepted from a sealed envelope (validated hex). */
function hex(s: string): string {
  return `"${s}"`;
}

export class TraceEmitter {
  private strings = new Map<string, number>();
  private table: string[] = [];
  private rows: string[] = [];
  private others: string[] = [];
  /** Batch numbers only grow, across restarts of a node with the same id too (the tracer drops a number it has seen). */
  private batch: number;
  /** Characters of the rows pending: a batch is sealed before it could pass the node's message limit. */
  private chars = 0;
  private scheduled = false;
  /** Off only in benchmarks (the `tracing: false` option), to measure what tracing costs. */
  enabled = true;

  constructor(
    private readonly nodeId: string,
    private readonly now: () => number,
    private readonly sink: TraceSink,
    private readonly maxBytes: number,
    /** Subjects whose messages are never traced: the trace's own (a batch handled by the tracer would make another). */
    private readonly untraced: (subject: string) => boolean = () => false,
  ) {
    this.batch = Math.floor(now() * 1000);
  }

  private s(value: string): number {
    let i = this.strings.get(value);
    if (i === undefined) {
      i = this.table.length;
      this.table.push(value);
      this.strings.set(value, i);
    }
    return i;
  }

  /** One event of one envelope, at `actor` (the receiver, or the sender for `sent`). A message's handling is `handled`, below. */
  envelope(event: Exclude<WireEvent, 'turn' | 'handled'>, actor: string, env: Envelope, subject: string, outcome?: string): void {
    if (!this.enabled || this.untraced(subject)) return;
    // A send is of an envelope the kernel just made (ids from workers are checked at the pool): hex.
    // Other events may be about a message refused as forged, whose ids a client chose: quoted properly.
    const quote = event === 'sent' ? hex : q;
    const cause = env.causationId === null ? 'null' : quote(env.causationId);
    this.push(
      this.rows,
      `["${event}",${this.now()},${this.s(actor)},${quote(env.id)},${quote(env.correlationId)},${cause},${this.s(env.kind)},${this.s(env.from)},${this.s(env.to)},${this.s(subject)},${env.payload.length},${outcome === undefined ? 'null' : this.s(outcome)},null,${env.attempt}]`,
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
    const start = startedAt === undefined ? 'null' : startedAt - at;
    const cause = env.causationId === null ? 'null' : hex(env.causationId);
    this.push(
      this.rows,
      `["handled",${at},${this.s(actor)},${hex(env.id)},${hex(env.correlationId)},${cause},${this.s(env.kind)},${this.s(env.from)},${this.s(env.to)},${this.s(d.subject)},${env.payload.length},${this.s(outcome)},${ms ?? 'null'},${env.attempt},${start},${replied ? 1 : 0}]`,
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
    if (!this.enabled) return;
    this.push(this.others, JSON.stringify(record));
  }

  private push(list: string[], text: string): void {
    list.push(text);
    this.chars += text.length;
    this.schedule();
  }

  private schedule(): void {
    // A quarter of the limit leaves room for the string table and for non-ASCII text.
    if (this.rows.length + this.others.length >= MAX_ROWS || this.chars >= this.maxBytes / 4) this.seal();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.seal();
      });
    }
  }

  /** Rows waiting for the next batch. */
  get pending(): number {
    return this.rows.length + this.others.length;
  }

  /** Seals what is pending into one batch and hands it to the sink. */
  seal(): void {
    const count = this.rows.length + this.others.length;
    if (count === 0) return;
    const batch = ++this.batch;
    const text = `{"v":${TRACE_WIRE_VERSION},"node":${JSON.stringify(this.nodeId)},"batch":${batch},"strings":${JSON.stringify(this.table)},"events":[${this.rows.join(',')}],"records":[${this.others.join(',')}]}`;
    this.strings = new Map();
    this.table = [];
    this.rows = [];
    this.others = [];
    this.chars = 0;
    this.sink.send(encoder.encode(text), count, batch);
  }
}
