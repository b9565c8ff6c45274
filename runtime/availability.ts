// "Never a silent timeout": when the last instance of an actor type stops serving a task
// subject on this node (restart backoff, stopped, supervisor gave up) and no node answers that
// it serves the subject, this node keeps a fallback in the type's queue group that answers
// every request at once with ERR_UNAVAILABLE (tasks without a reply are dead-lettered), and it
// publishes one escalation event. The fallback goes as soon as an instance serves the subject
// again, here or on any node (announced on `<ns>.ctl.all.up`).

import type { Msg, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { EscalationEvent } from './supervision-port.js';
import type { Subjects } from './subjects.js';
import type { NatsTransport } from './transport/nats-transport.js';

/** How long to wait for another node to say it serves a subject. */
export const SERVES_PROBE_MS = 250;

const encoder = new TextEncoder();

export interface AvailabilityHooks {
  /** True while an actor of this node serves `subject`. */
  servesLocally(subject: string): boolean;
  /** A message on the stand-in: handed to an instance that serves the subject here by now, or
   *  answered (if the sender waits) and dead-lettered. */
  unavailable(type: string, msg: Msg): void;
  escalate(event: EscalationEvent): void;
}

export class Availability {
  private readonly fallbacks = new Map<string, { type: string; sub: Subscription }>();

  constructor(
    private readonly transport: NatsTransport,
    private readonly subjects: Subjects,
    private readonly log: Logger,
    private readonly hooks: AvailabilityHooks,
  ) {}

  /**
   * Called before an instance of `type` stops serving `subject` here (its subscription is still
   * live, so nothing falls through meanwhile): if no other instance serves it, here or on any
   * node, stand in.
   */
  async losing(subject: string, type: string): Promise<void> {
    // Only task subjects get a stand-in: other subscriptions (trace, events) have no one waiting on an answer.
    if (!this.subjects.isTask(subject)) return;
    if (this.hooks.servesLocally(subject) || this.fallbacks.has(subject)) return;
    const elsewhere = await this.servedElsewhere(subject);
    if (elsewhere || this.hooks.servesLocally(subject) || this.fallbacks.has(subject)) return;
    const sub = this.transport.subscribe(subject, (m) => this.hooks.unavailable(type, m), this.subjects.queueGroup(type));
    this.fallbacks.set(subject, { type, sub });
    this.log.error({ subject, type }, `no instance of ${type} serves ${subject}: answering ERR_UNAVAILABLE`);
    this.hooks.escalate({ reason: { code: 'ERR_UNAVAILABLE', message: `no instance of ${type} serves ${subject}` }, subject, type });
  }

  /** An instance serves `subject` here again: drop the fallback and tell the other nodes. */
  regained(subject: string): void {
    if (!this.subjects.isTask(subject)) return;
    this.drop(subject);
    this.transport.publish(this.subjects.control('all', 'up'), encoder.encode(JSON.stringify({ subject })), { headers: this.transport.jsonHeaders });
  }

  /** Another node announced an instance for `subject`. */
  drop(subject: string): void {
    const f = this.fallbacks.get(subject);
    if (f === undefined) return;
    this.fallbacks.delete(subject);
    // Drained, not unsubscribed: a message already routed to it still reaches the handler
    // (which hands it to the instance that serves here now), instead of vanishing.
    void f.sub.drain().catch(() => undefined);
    this.log.info({ subject, type: f.type }, `${subject} is served again`);
  }

  close(): void {
    for (const subject of [...this.fallbacks.keys()]) this.drop(subject);
  }

  private async servedElsewhere(subject: string): Promise<boolean> {
    // Nodes that serve the subject answer; the others stay silent.
    try {
      await this.transport.request(this.subjects.control('all', 'serves'), encoder.encode(JSON.stringify({ subject })), this.transport.jsonHeaders, SERVES_PROBE_MS);
      return true;
    } catch {
      return false;
    }
  }
}
