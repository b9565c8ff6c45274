// Gets trace batches to the tracer without losing them. Every batch is published at once, as a
// request on `<ns>.trace.<node>` (so anyone watching sees it live) that the tracer acknowledges
// once it is in the log. Batches not acknowledged stay in a bounded buffer and are sent again:
// while no tracer answers, only the oldest is retried (a probe, with backoff); once one answers,
// the rest follow. When the buffer is full the oldest batches are dropped, counted and reported,
// and audited actions are held back meanwhile (see `saturated`).

import type { Logger } from 'pino';
import type { Clock, TimerHandle } from '../clock.js';
import { ERROR_HEADER, type NatsTransport } from '../transport/nats-transport.js';
import type { TraceSink } from './trace-emitter.js';

export const DEFAULT_TRACE_BUFFER_RECORDS = 100_000;
const ACK_TIMEOUT_MS = 2_000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2_000;

/** Error answers that mean the tracer will never accept this batch. */
const UNREADABLE = new Set(['ERR_INPUT_SCHEMA', 'ERR_DECODE', 'ERR_PAYLOAD_TOO_LARGE']);

function isAck(data: Uint8Array): boolean {
  try {
    return (JSON.parse(new TextDecoder().decode(data)) as { ok?: unknown }).ok === true;
  } catch {
    return false;
  }
}

interface Pending {
  bytes: Uint8Array;
  records: number;
  batch: number;
  /** A request for it is out now. */
  inFlight: boolean;
}

export interface TracePublisherOptions {
  transport: NatsTransport;
  subject: string;
  clock: Clock;
  log: Logger;
  /** Records kept while the tracer does not acknowledge (default 100,000). */
  maxRecords?: number;
  /** Records were dropped since the last report: the trace itself says so once a tracer acknowledges again. */
  onDropped: (count: number) => void;
}

export class TracePublisher implements TraceSink {
  /** Unacknowledged batches, oldest first. */
  private readonly pending = new Map<number, Pending>();
  private buffered = 0;
  private retryMs = RETRY_MIN_MS;
  private retryTimer: TimerHandle | undefined;
  private absent = false;
  private closed = false;
  private reported = 0;
  /** Records dropped because the buffer was full (reported in the trace once a tracer answers). */
  private dropped = 0;
  private readonly maxRecords: number;

  constructor(private readonly opts: TracePublisherOptions) {
    this.maxRecords = opts.maxRecords ?? DEFAULT_TRACE_BUFFER_RECORDS;
  }

  /** The buffer is full: the broker holds back audited actions until there is room again. */
  get saturated(): boolean {
    return this.buffered >= this.maxRecords;
  }

  /** Records not yet acknowledged. */
  get backlog(): number {
    return this.buffered;
  }

  send(bytes: Uint8Array, records: number, batch: number): void {
    if (this.closed) return;
    const p: Pending = { bytes, records, batch, inFlight: false };
    this.pending.set(batch, p);
    this.buffered += records;
    this.trim();
    // While no tracer answers, new batches still go out once (watchers see them live); only the probe repeats.
    this.request(p);
  }

  private trim(): void {
    for (const [batch, old] of this.pending) {
      if (this.buffered <= this.maxRecords || this.pending.size <= 1) return;
      this.pending.delete(batch);
      this.buffered -= old.records;
      if (this.dropped === this.reported) this.opts.log.error({ maxRecords: this.maxRecords }, 'trace buffer full: the oldest trace batches are dropped (and counted) until a tracer acknowledges again');
      this.dropped += old.records;
    }
  }

  private request(p: Pending): void {
    p.inFlight = true;
    this.opts.transport.request(this.opts.subject, p.bytes, this.opts.transport.jsonHeaders, ACK_TIMEOUT_MS).then(
      (reply) => {
        p.inFlight = false;
        // Only `{"ok":true}` is an ack. A tracer that cannot read the batch never will: it is
        // dropped (and counted); any other answer is a tracer in trouble, so the batch waits.
        const code = reply.headers?.get(ERROR_HEADER) || undefined;
        if (code !== undefined && UNREADABLE.has(code)) this.settled(p, code);
        else if (code === undefined && isAck(reply.data)) this.settled(p, undefined);
        else this.unanswered(code ?? 'no ack');
      },
      (err: unknown) => {
        p.inFlight = false;
        this.unanswered((err as { code?: string }).code ?? String(err));
      },
    );
  }

  /** Acknowledged, or (with a code) refused for good. */
  private settled(p: Pending, refused: string | undefined): void {
    if (!this.pending.delete(p.batch)) return;
    this.buffered -= p.records;
    if (refused !== undefined) {
      this.dropped += p.records;
      this.opts.log.error({ code: refused, records: p.records, batch: p.batch }, 'the tracer cannot read a trace batch: dropped (and counted)');
      return;
    }
    this.retryMs = RETRY_MIN_MS;
    if (this.dropped > this.reported) {
      const count = this.dropped - this.reported;
      this.reported = this.dropped;
      this.opts.onDropped(count);
    }
    if (this.absent) {
      this.absent = false;
      this.opts.log.info({ backlog: this.buffered, dropped: this.dropped }, 'a tracer acknowledges again: sending the buffered trace');
      for (const q of this.pending.values()) if (!q.inFlight) this.request(q);
    }
  }

  private unanswered(why: string): void {
    if (this.closed) return;
    if (!this.absent) {
      this.absent = true;
      // Normal for a node with no tracer yet; a full buffer is the error (see trim).
      this.opts.log.info({ why, backlog: this.buffered }, 'no tracer acknowledges the trace: buffering (bounded) and retrying');
    }
    if (this.retryTimer !== undefined) return;
    this.retryTimer = this.opts.clock.setTimeout(() => {
      this.retryTimer = undefined;
      // The probe: the oldest batch again; its ack sends the rest.
      const oldest = this.pending.values().next().value;
      if (oldest !== undefined && !oldest.inFlight) this.request(oldest);
    }, this.retryMs);
    this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
  }

  /** Stops: batches not acknowledged are counted as dropped (the node is going away). */
  close(): number {
    this.closed = true;
    if (this.retryTimer !== undefined) this.opts.clock.clearTimeout(this.retryTimer);
    const lost = this.buffered;
    this.pending.clear();
    this.buffered = 0;
    return lost;
  }
}
