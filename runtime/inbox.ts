// The way in: a NATS message on an actor's subject, or a message from an actor of the same
// node, becomes a mailbox entry, or, when it cannot be taken (malformed, too large, actor
// stopping, mailbox full), a typed error reply, a dead letter and a log record.

import type { Msg } from 'nats';
import type { Logger } from 'pino';
import type { ActorCell, Delivery } from './actor-cell.js';
import type { Clock } from './clock.js';
import type { DeadLetters } from './dead-letters.js';
import type { Dispatcher } from './dispatcher.js';
import type { Envelope, EnvelopeKind } from './envelope.js';
import { aosError, type AosError } from './errors/aos-error.js';
import { InboundError, parseInbound, SpoofError } from './inbound.js';
import type { Broker } from './broker/broker.js';
import type { TraceEmitter } from './trace/trace-emitter.js';
import { RecentIds } from './recent-ids.js';
import type { Outbox } from './outbox.js';
import type { Quiescence } from './quiescence.js';

/** A failed or restarting actor still takes messages: they wait in its mailbox for the restart. */
export function acceptsMessages(cell: ActorCell): boolean {
  return cell.status === 'running' || cell.status === 'failed' || cell.status === 'restarting';
}

export interface InboxDeps {
  cells: Map<string, ActorCell>;
  clock: Clock;
  log: Logger;
  maxMessageBytes: number;
  outbox: Outbox;
  deadLetters: DeadLetters;
  dispatcher: Dispatcher;
  quiet: Quiescence;
  broker: Broker;
  trace: TraceEmitter;
  /** The cluster key envelopes must be sealed with. */
  key: Uint8Array;
}

export class Inbox {
  /** Envelopes taken from NATS, per receiver (one envelope on a subject two actors serve reaches both). */
  private readonly recent = new RecentIds();

  constructor(private readonly deps: InboxDeps) {}

  /** A NATS message on one of the cell's subjects. */
  receive(cell: ActorCell, msg: Msg, kind: EnvelopeKind, to: string): void {
    this.deps.quiet.activity++;
    let delivery: Delivery;
    try {
      const parsed = parseInbound(msg, { to, kind, now: this.deps.clock.now(), maxMessageBytes: this.deps.maxMessageBytes, key: this.deps.key, firstSeen: (id) => this.recent.add(`${cell.id} ${id}`) });
      delivery = parsed.delivery;
      if (parsed.claimed.length > 0) {
        this.deps.log.warn({ actor: cell.id, claimed: parsed.claimed, messageId: delivery.env.id }, 'kernel headers from outside the runtime ignored');
      }
    } catch (err) {
      if (!(err instanceof InboundError)) throw err;
      const env = err.env;
      if (err instanceof SpoofError) {
        this.deps.broker.recordDenial(err.claimed, 'receive', msg.subject, 'spoof', String(err.error.details['rule']), { ...(env === undefined ? {} : { messageId: env.id, correlationId: env.correlationId }) }, { to: cell.id, claimed: err.claimed });
        this.deps.log.warn({ actor: cell.id, subject: msg.subject, claimed: err.claimed }, 'spoof attempt denied: a message claimed an identity it does not have');
      }
      const d: Delivery = { env: env ?? this.stubEnvelope(to, msg), subject: msg.subject, replyMode: 'raw' };
      if (msg.reply) d.replyTo = msg.reply;
      this.reject(cell, d, err.error, env === undefined ? msg.data : undefined);
      return;
    }
    this.accept(cell, delivery);
  }

  /** The local route of the Outbox: a message for an actor running here skips NATS. */
  deliverLocal(to: string, d: Delivery): boolean {
    const cell = this.deps.cells.get(to);
    if (cell === undefined || !acceptsMessages(cell)) return false;
    this.deps.quiet.activity++;
    this.accept(cell, d);
    return true;
  }

  private accept(cell: ActorCell, delivery: Delivery): void {
    if (!acceptsMessages(cell)) {
      this.reject(cell, delivery, aosError('ERR_ACTOR_STOPPED', `actor ${cell.id} is stopping`, { actorId: cell.id }));
      return;
    }
    delivery.receivedAt = this.deps.clock.now();
    const offer = cell.mailbox.offer(delivery);
    const full = (d: Delivery) =>
      this.reject(cell, d, aosError('ERR_MAILBOX_FULL', `mailbox of ${cell.id} is full (${cell.mailbox.capacity})`, { actorId: cell.id, capacity: cell.mailbox.capacity }));
    if (!offer.accepted) full(offer.rejected);
    else if (offer.evicted !== undefined) full(offer.evicted);
    this.deps.dispatcher.wake(cell);
  }

  stubEnvelope(to: string, msg: Msg): Envelope {
    return { kind: 'tell', id: '0000000000000000', from: 'unknown', to, correlationId: '0'.repeat(32), causationId: null, sentAt: this.deps.clock.now(), attempt: 0, format: 'json', payload: msg.data.slice(0, 0) };
  }

  /** A message that will not be handled: typed error reply (if the sender waits), dead letter, log. */
  reject(cell: ActorCell, d: Delivery, err: AosError, raw?: Uint8Array): void {
    this.deps.trace.settleSent(d);
    this.deps.outbox.replyError(d, cell.id, err);
    this.deps.deadLetters.publish(cell.addr.type, d.subject, err, raw === undefined ? d.env : undefined, raw);
  }

  // ---- turn results ----------------------------------------------------------------
}
