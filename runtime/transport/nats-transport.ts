// The node's one NATS connection. It owns the reply inbox: one wildcard subscription
// serves every ask this node makes (a map of pending ids instead of nc.request(), which
// builds an Error with a stack per call), and also catches the server's "no responders"
// answers for tells, so a message to an actor that runs nowhere is dead-lettered, not lost.

import { connect, createInbox, headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { Deadlines, type DeadlineHandle } from '../deadlines.js';
import { CONTENT_TYPE_HEADER, CT_ENVELOPE, CT_JSON, CT_MSGPACK, SEAL_HEADER } from '../envelope.js';
import { aosError, type AosError } from '../errors/aos-error.js';
import type { ErrorCode } from '../errors/codes.js';

export const ERROR_HEADER = 'aos-error';

export interface TransportOptions {
  servers: string;
  name: string;
  clock: Clock;
  log: Logger;
}

interface PendingAsk {
  resolve: (msg: Msg) => void;
  reject: (err: AosError) => void;
  deadline: DeadlineHandle;
  subject: string;
}

/** Called when a tell found no subscriber: the server answered our reply subject with 503. */
export type NoResponderHandler = (token: string) => void;

export class NatsTransport {
  readonly inbox: string;
  private readonly pending = new Map<string, PendingAsk>();
  private seq = 0;
  private onNoResponder: NoResponderHandler = () => {};
  readonly envelopeHeaders: MsgHdrs;
  readonly jsonHeaders: MsgHdrs;
  readonly msgpackHeaders: MsgHdrs;
  private readonly errorHeaders = new Map<ErrorCode, MsgHdrs>();
  private readonly deadlines: Deadlines;

  private constructor(
    readonly nc: NatsConnection,
    clock: Clock,
    private readonly log: Logger,
  ) {
    this.deadlines = new Deadlines(clock);
    this.inbox = createInbox();
    this.envelopeHeaders = headers();
    this.envelopeHeaders.set(CONTENT_TYPE_HEADER, CT_ENVELOPE);
    this.jsonHeaders = headers();
    this.jsonHeaders.set(CONTENT_TYPE_HEADER, CT_JSON);
    this.msgpackHeaders = headers();
    this.msgpackHeaders.set(CONTENT_TYPE_HEADER, CT_MSGPACK);
    nc.subscribe(`${this.inbox}.>`, { callback: (_err, msg) => this.onInbox(msg) });
  }

  static async connect(opts: TransportOptions): Promise<NatsTransport> {
    let nc: NatsConnection;
    try {
      nc = await connect({ servers: opts.servers, name: opts.name, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    } catch (err) {
      throw aosError('ERR_TRANSPORT', `cannot connect to NATS at ${opts.servers}`, { servers: opts.servers }, err);
    }
    const t = new NatsTransport(nc, opts.clock, opts.log);
    void t.watchStatus();
    return t;
  }

  get maxPayload(): number {
    return this.nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Closed or draining: nothing more may be published. */
  get closed(): boolean {
    return this.nc.isClosed() || this.nc.isDraining();
  }

  get connectedUrl(): string {
    return this.nc.getServer();
  }

  setNoResponderHandler(fn: NoResponderHandler): void {
    this.onNoResponder = fn;
  }

  /** Headers for a JSON error reply (the code also travels in the `aos-error` header). */
  errorJsonHeaders(code: ErrorCode): MsgHdrs {
    let h = this.errorHeaders.get(code);
    if (h === undefined) {
      h = headers();
      h.set(CONTENT_TYPE_HEADER, CT_JSON);
      h.set(ERROR_HEADER, code);
      this.errorHeaders.set(code, h);
    }
    return h;
  }

  /** Headers for a JSON error reply from a node, sealed so that the asking node can believe it. */
  sealedErrorHeaders(code: ErrorCode, seal: string): MsgHdrs {
    const h = headers();
    h.set(CONTENT_TYPE_HEADER, CT_JSON);
    h.set(ERROR_HEADER, code);
    h.set(SEAL_HEADER, seal);
    return h;
  }

  publish(subject: string, data: Uint8Array, opts: { reply?: string; headers?: MsgHdrs } = {}): void {
    this.nc.publish(subject, data, opts);
  }

  subscribe(subject: string, callback: (msg: Msg) => void, queue?: string): Subscription {
    return this.nc.subscribe(subject, {
      ...(queue === undefined ? {} : { queue }),
      callback: (err, msg) => {
        if (err !== null) {
          this.log.error({ err, subject }, 'subscription error');
          return;
        }
        callback(msg);
      },
    });
  }

  /** A reply subject for a tell: unused unless the server answers "no responders" with `token`. */
  tellReplySubject(token: string): string {
    return `${this.inbox}.t.${token}`;
  }

  /** Publishes a request and resolves with the reply message (no-responders and timeouts reject with typed errors). */
  request(subject: string, data: Uint8Array, hdrs: MsgHdrs, timeoutMs: number): Promise<Msg> {
    const token = (this.seq++).toString(36);
    return new Promise<Msg>((resolve, reject) => {
      const deadline = this.deadlines.after(timeoutMs, () => {
        this.pending.delete(token);
        reject(aosError('ERR_TIMEOUT', `no reply from ${subject} within ${timeoutMs} ms`, { subject, timeoutMs }));
      });
      this.pending.set(token, { resolve, reject, deadline, subject });
      try {
        this.nc.publish(subject, data, { reply: `${this.inbox}.r.${token}`, headers: hdrs });
      } catch (err) {
        deadline.cancel();
        this.pending.delete(token);
        reject(aosError('ERR_TRANSPORT', `cannot publish to ${subject}`, { subject }, err));
      }
    });
  }

  /** Rejects every pending request (shutdown). */
  failPending(err: AosError): void {
    this.deadlines.clear();
    for (const [token, p] of this.pending) {
      this.pending.delete(token);
      p.reject(err);
    }
  }

  async flush(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    await this.nc.drain().catch(() => this.nc.close());
  }

  private onInbox(msg: Msg): void {
    // `<inbox>.r.<token>` answers a request; `<inbox>.t.<token>` can only be a no-responders status.
    const rest = msg.subject.slice(this.inbox.length + 1);
    const kind = rest.slice(0, 2);
    const token = rest.slice(2);
    const noResponders = msg.headers?.code === 503;
    if (kind === 't.') {
      if (noResponders) this.onNoResponder(token);
      return;
    }
    const p = this.pending.get(token);
    if (p === undefined) return; // a late reply after a timeout: the asker has its error already
    this.pending.delete(token);
    p.deadline.cancel();
    if (noResponders) {
      p.reject(aosError('ERR_UNKNOWN_ACTOR', `nothing serves ${p.subject}`, { subject: p.subject }));
    } else {
      p.resolve(msg);
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnect' || s.type === 'error') {
        this.log.warn({ status: s.type, data: String(s.data) }, 'nats connection status');
      }
    }
  }
}
