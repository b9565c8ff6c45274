// Everything a node sends: envelopes for tells, publishes, asks and replies, stamped here
// with the node's view of identity and causality. Tells carry a reply subject that only
// the server uses (503 "no responders"), so a tell to an actor that runs nowhere comes back
// and is dead-lettered with its payload from a short ring of recent tells.

import type { Logger } from 'pino';
import type { Delivery } from './actor-cell.js';
import { Deadlines } from './deadlines.js';
import { parseAgentId } from './address.js';
import type { Clock } from './clock.js';
import type { DeadLetters } from './dead-letters.js';
import { CT_ENVELOPE, CONTENT_TYPE_HEADER, decodeEnvelope, encodeEnvelope, envelopeSealed, sealMatches, sealOf, SEAL_HEADER, type Envelope, type EnvelopeKind, type PayloadFormat } from './envelope.js';
import { aosError, fromWire, toAosError, type AosError } from './errors/aos-error.js';
import { newCorrelationId, newMessageId } from './ids.js';
import type { Subjects } from './subjects.js';
import type { TraceEmitter } from './trace/trace-emitter.js';
import { ERROR_HEADER, type NatsTransport } from './transport/nats-transport.js';

/** Recent tells kept for dead-lettering on "no responders" (the answer comes within a round trip). */
const RECENT_TELLS = 8192;
const encoder = new TextEncoder();

function jsonError(data: Uint8Array): unknown {
  try {
    return (JSON.parse(new TextDecoder().decode(data)) as { error?: unknown }).error;
  } catch {
    return undefined;
  }
}

export interface Origin {
  from: string;
  correlationId?: string;
  causationId?: string | null;
}

export interface Encoded {
  format: PayloadFormat;
  payload: Uint8Array;
}

/** Hands a message to an actor of this node; false when no such actor is running here. */
export type LocalRoute = (to: string, d: Delivery) => boolean;

export class Outbox {
  private readonly recent = new Map<string, { type: string; subject: string; env: Envelope }>();
  private readonly deadlines: Deadlines;

  constructor(
    private readonly transport: NatsTransport,
    private readonly subjects: Subjects,
    private readonly clock: Clock,
    private readonly deadLetters: DeadLetters,
    private readonly log: Logger,
    private readonly local: LocalRoute,
    /** Seals every envelope this node sends (see envelope.ts); receivers refuse unsealed ones. */
    private readonly key: Uint8Array,
    /** True when the kernel may answer on this reply subject (false: refused and recorded). */
    private readonly replyAllowed: (d: Delivery, from: string) => boolean,
    /** Records a forged reply (the broker's decision record). */
    private readonly onSpoof: (claimed: string, action: 'receive', env: Envelope, rule: string, detail: Record<string, unknown>) => void,
    private readonly trace: TraceEmitter,
  ) {
    this.deadlines = new Deadlines(clock);
    transport.setNoResponderHandler((token) => this.onNoResponder(token));
  }

  envelope(kind: EnvelopeKind, origin: Origin, to: string, body: Encoded): Envelope {
    return {
      kind,
      id: newMessageId(),
      from: origin.from,
      to,
      correlationId: origin.correlationId ?? newCorrelationId(),
      causationId: origin.causationId ?? null,
      sentAt: this.clock.now(),
      attempt: 0,
      format: body.format,
      payload: body.payload,
    };
  }

  tell(origin: Origin, to: string, body: Encoded, kind: 'tell' | 'approval' = 'tell'): Envelope {
    const addr = parseAgentId(to);
    const env = this.envelope(kind, origin, to, body);
    const subject = this.subjects.actor(addr);
    // An actor of this node gets the message straight into its mailbox, as Akka's local refs do.
    const d: Delivery = { env, subject, replyMode: 'envelope', sentBy: origin.from };
    if (this.local(to, d)) {
      this.trace.sentHere(d);
      return env;
    }
    this.trace.envelope('sent', origin.from, env, subject);
    this.recent.set(env.id, { type: addr.type, subject, env });
    if (this.recent.size > RECENT_TELLS) this.recent.delete(this.recent.keys().next().value!);
    this.transport.publish(subject, encodeEnvelope(env, this.key), { reply: this.transport.tellReplySubject(env.id), headers: this.transport.envelopeHeaders });
    return env;
  }

  publish(origin: Origin, subject: string, body: Encoded): Envelope {
    const env = this.envelope(this.subjects.isTask(subject) ? 'task' : 'event', origin, subject, body);
    this.trace.envelope('sent', origin.from, env, subject);
    this.transport.publish(subject, encodeEnvelope(env, this.key), { headers: this.transport.envelopeHeaders });
    return env;
  }

  /** Asks an actor; resolves with the encoded reply or rejects with the typed error it answered. */
  async ask(origin: Origin, to: string, body: Encoded, timeoutMs: number): Promise<Encoded> {
    const addr = parseAgentId(to);
    const env = this.envelope('ask', origin, to, body);
    const local = this.askLocal(env, this.subjects.actor(addr), timeoutMs);
    if (local !== undefined) return local;
    this.trace.envelope('sent', origin.from, env, this.subjects.actor(addr));
    const msg = await this.transport.request(this.subjects.actor(addr), encodeEnvelope(env, this.key), this.transport.envelopeHeaders, timeoutMs).catch(
      (err: unknown) => {
        throw toAosError(err, 'ERR_TRANSPORT', { actorId: to });
      },
    );
    if (msg.headers?.get(CONTENT_TYPE_HEADER) !== CT_ENVELOPE) {
      // A node that could not read our envelope answers as it answers any client: JSON with
      // `aos-error`, sealed in `aos-seal` so that a client who saw the reply subject cannot forge it.
      if (msg.headers?.has(ERROR_HEADER)) {
        if (sealMatches(msg.data, msg.headers.get(SEAL_HEADER), this.key)) throw fromWire(jsonError(msg.data));
        throw this.spoofedReply(origin, env, to, 'builtin:sealed-error-reply');
      }
      throw aosError('ERR_DECODE', `reply from ${to} is not an envelope`, { actorId: to });
    }
    if (!envelopeSealed(msg.data, this.key)) throw this.spoofedReply(origin, env, to, 'builtin:sealed-envelope');
    const reply = decodeEnvelope(msg.data);
    if (reply.error !== undefined) throw fromWire(reply.error);
    return { format: reply.format, payload: reply.payload.slice() };
  }

  /** A reply not sealed with the cluster key: refused, recorded, and the asker told. */
  private spoofedReply(origin: Origin, env: Envelope, to: string, rule: string): AosError {
    this.onSpoof(to, 'receive', env, rule, { asker: origin.from });
    return aosError('ERR_DENIED', `the reply from ${to} is not sealed with the cluster key (forged?)`, { actorId: to, reason: 'spoof', rule });
  }

  /** Asks an actor of this node without NATS; undefined when it does not run here. */
  private askLocal(env: Envelope, subject: string, timeoutMs: number): Promise<Encoded> | undefined {
    let settle!: { resolve: (b: Encoded) => void; reject: (e: AosError) => void };
    const promise = new Promise<Encoded>((resolve, reject) => (settle = { resolve, reject }));
    const deadline = this.deadlines.after(timeoutMs, () =>
      settle.reject(aosError('ERR_TIMEOUT', `no reply from ${env.to} within ${timeoutMs} ms`, { actorId: env.to, timeoutMs })),
    );
    const d: Delivery = {
      env,
      subject,
      replyMode: 'envelope',
      sentBy: env.from,
      local: {
        resolve: (b) => {
          deadline.cancel();
          settle.resolve(b);
        },
        reject: (e) => {
          deadline.cancel();
          settle.reject(e);
        },
      },
    };
    if (this.local(env.to, d)) {
      this.trace.sentHere(d);
      return promise;
    }
    deadline.cancel();
    return undefined;
  }

  reply(d: Delivery, from: string, body: Encoded): void {
    if (d.local !== undefined) {
      d.local.resolve(body);
      return;
    }
    if (d.replyTo === undefined || !this.replyAllowed(d, from)) return;
    if (d.replyMode === 'raw') {
      // The client's own format back: JSON for JSON, msgpack for a client that sent msgpack.
      const headers = body.format === 'json' ? this.transport.jsonHeaders : this.transport.msgpackHeaders;
      this.transport.publish(d.replyTo, body.payload, { headers });
      return;
    }
    const env = this.envelope('reply', { from, correlationId: d.env.correlationId, causationId: d.env.id }, d.env.from, body);
    this.transport.publish(d.replyTo, encodeEnvelope(env, this.key), { headers: this.transport.envelopeHeaders });
  }

  /** Answers a waiting sender with a typed error: `{"error":{code,message,details}}` for JSON clients. */
  replyError(d: Delivery, from: string, err: AosError): void {
    if (d.local !== undefined || d.replyTo !== undefined) this.trace.envelope('replied', from, d.env, d.subject, err.code);
    if (d.local !== undefined) {
      d.local.reject(err);
      return;
    }
    if (d.replyTo === undefined || !this.replyAllowed(d, from)) return;
    try {
      if (d.replyMode === 'raw') {
        const body = encoder.encode(JSON.stringify({ error: err.toWire() }));
        this.transport.publish(d.replyTo, body, { headers: this.transport.sealedErrorHeaders(err.code, sealOf(body, this.key)) });
        return;
      }
      const env = this.envelope('reply', { from, correlationId: d.env.correlationId, causationId: d.env.id }, d.env.from, {
        format: 'msgpack',
        payload: new Uint8Array(),
      });
      env.error = err.toWire();
      this.transport.publish(d.replyTo, encodeEnvelope(env, this.key), { headers: this.transport.envelopeHeaders });
    } catch (e) {
      this.log.error({ err: e, replyTo: d.replyTo, code: err.code }, 'could not send an error reply');
    }
  }

  private onNoResponder(token: string): void {
    const sent = this.recent.get(token);
    if (sent === undefined) {
      this.log.warn({ messageId: token }, 'a tell found no actor, and it is no longer in the recent ring (payload lost to this node)');
      return;
    }
    this.recent.delete(token);
    const err = aosError('ERR_UNKNOWN_ACTOR', `no actor ${sent.env.to} runs on any node`, { actorId: sent.env.to });
    this.deadLetters.publish(sent.type, sent.subject, err, sent.env);
  }
}
