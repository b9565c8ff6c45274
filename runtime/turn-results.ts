// What the kernel does with a batch's results: commit the effects of turns that returned,
// answer and dead-letter bad input, and send every failed turn down the one failure path
// (unsupervised: keep the state, drop the message; supervised: pause and tell the supervisor).

import { awaitsReply, type ActorCell, type Delivery } from './actor-cell.js';
import type { BatchFailure, DispatchedActor } from './dispatcher.js';
import { aosError, fromWire, toAosError, type AosError } from './errors/aos-error.js';
import type { NodeCore } from './node-core.js';
import type { Origin } from './outbox.js';
import { assertSubject } from './subjects.js';
import type { FailureKind } from './supervision-port.js';
import type { ActorResult, Intent, Refused, TurnOutcome } from './wire.js';
import { parseAgentId } from './address.js';
import { decodeValue } from './envelope.js';
import type { Action } from './broker/policy-schema.js';

const INPUT_CODES = new Set(['ERR_DECODE', 'ERR_INPUT_SCHEMA', 'ERR_PAYLOAD_TOO_LARGE']);
/** A handler that lets a broker denial escape: the message is answered and dead-lettered, and
 *  the actor keeps running (a restart would not make the action allowed). */
const DENIAL_CODES = new Set(['ERR_DENIED', 'ERR_APPROVAL_REQUIRED']);
const FAILURE_KINDS: Partial<Record<string, FailureKind>> = {
  ERR_OUTPUT_SCHEMA: 'output-schema',
  ERR_ENCODE: 'output-schema',
  ERR_TURN_TIMEOUT: 'timeout',
  ERR_WORKER_DIED: 'worker-died',
  ERR_MEMORY_LIMIT: 'worker-died',
};

export class TurnResults {
  constructor(private readonly core: NodeCore) {}

  /** One actor's share of a batch: its init (after a restart), then each turn's outcome in order. */
  apply(actor: DispatchedActor, r: ActorResult): void {
    const { cell, deliveries } = actor;
    if (r.init !== undefined && !this.initSettled(cell, deliveries, r.init)) return;
    cell.state = r.state;
    r.outcomes.forEach((outcome, i) => this.settleTurn(cell, deliveries[i]!, outcome));
    this.requeue(cell, deliveries.slice(r.outcomes.length));
  }

  /** Messages a batch did not reach go back to the front of the mailbox; an actor stopped meanwhile answers them ERR_ACTOR_STOPPED. */
  private requeue(cell: ActorCell, deliveries: Delivery[]): void {
    if (deliveries.length === 0) return;
    if (cell.status === 'stopping' || cell.status === 'stopped') {
      const reason = aosError('ERR_ACTOR_STOPPED', `actor ${cell.id} was stopped`, { actorId: cell.id });
      for (const d of deliveries) this.core.reject(cell, d, reason);
      return;
    }
    cell.mailbox.unshiftAll(deliveries);
  }

  /** The init a restarted actor ran at the head of its batch: commit its intents, or, failed, report the child failing again. */
  private initSettled(cell: ActorCell, deliveries: Delivery[], init: TurnOutcome): boolean {
    if (init.ok) {
      this.commitIntents(cell, { from: cell.id }, init.intents);
      cell.restartInits++;
      return true;
    }
    this.requeue(cell, deliveries);
    cell.needsInit = true;
    const err = fromWire(init.error);
    this.core.log.error({ actor: cell.id, reason: { code: err.code, message: err.message, stack: err.stack } }, 'init failed after a restart');
    if (cell.watcher === undefined || cell.status !== 'running') return false;
    cell.status = 'failed';
    cell.watcher.childFailed(cell.id, { kind: FAILURE_KINDS[err.code] ?? 'threw', error: err, messageId: '', attempt: 0, correlationId: '' });
    return false;
  }

  private settleTurn(cell: ActorCell, d: Delivery, outcome: TurnOutcome): void {
    this.core.quiet.activity++;
    const result = outcome.ok ? 'ok' : outcome.error.code;
    this.core.trace.handled(cell.id, d, result, outcome.startedAt, outcome.ms, outcome.ok && outcome.reply !== undefined && awaitsReply(d));
    this.core.trace.payload(cell.id, d, this.core.broker.policy);
    if (this.core.otel !== undefined && !this.core.subjects.isTrace(d.subject)) this.core.otel.handled(cell.id, d, result, outcome.startedAt, outcome.ms);
    if (outcome.refused !== undefined) this.recordRefused(cell, d, outcome.refused);
    if (outcome.ok) {
      cell.turns++;
      const stored = this.commitIntents(cell, { from: cell.id, correlationId: d.env.correlationId, causationId: d.env.id }, outcome.intents);
      const answer = () => {
        if (outcome.reply !== undefined) this.core.outbox.reply(d, cell.id, outcome.reply);
        else if (outcome.pending !== undefined && awaitsReply(d)) this.core.outbox.replyError(d, cell.id, fromWire(outcome.pending));
        else if (awaitsReply(d)) {
          this.core.outbox.replyError(d, cell.id, aosError('ERR_NO_REPLY', `${cell.id} handled the ask without replying`, { actorId: cell.id, messageId: d.env.id }));
        }
      };
      // A request the turn made is stored before anyone hears of its id.
      if (stored.length === 0) answer();
      else void Promise.allSettled(stored).then(answer);
      return;
    }
    const err = fromWire(outcome.error);
    if (INPUT_CODES.has(err.code) || DENIAL_CODES.has(err.code)) {
      this.core.reject(cell, d, err);
      return;
    }
    this.turnFailed(cell, d, err, FAILURE_KINDS[err.code] ?? 'threw');
  }

  /**
   * The one failure path: a turn that threw, broke its schema, overran its limit or lost its
   * worker. Unsupervised, the actor keeps its state and the message is dropped (answered and
   * dead-lettered); supervised, the actor pauses until its supervisor restarts, resumes or stops it.
   */
  private turnFailed(cell: ActorCell, d: Delivery, err: AosError, kind: FailureKind): void {
    cell.turns++;
    cell.failures++;
    this.core.trace.settleSent(d);
    this.core.trace.envelope('failed', cell.id, d.env, d.subject, err.code);
    this.core.log.error(
      { actor: cell.id, reason: { code: err.code, message: err.message, stack: err.stack }, failure: kind, messageId: d.env.id, correlationId: d.env.correlationId, attempt: d.env.attempt },
      'turn failed: state and effects discarded',
    );
    // A turn aborted because its actor is stopping is not a failure to supervise.
    if (cell.watcher === undefined || !this.core.running() || cell.status !== 'running' || err.code === 'ERR_ACTOR_STOPPED') {
      this.core.reject(cell, d, err);
      return;
    }
    cell.status = 'failed';
    cell.failed = { delivery: d, error: err };
    cell.watcher.childFailed(cell.id, { kind, error: err, messageId: d.env.id, attempt: d.env.attempt, correlationId: d.env.correlationId });
  }

  /**
   * A batch failed as a whole: its worker died, or was terminated because a turn would not
   * yield or because it held too much memory outside the heap (every turn running in it then
   * fails with ERR_MEMORY_LIMIT: which one allocated cannot be told). The turn that was running
   * is the failure; every other message of the batch is put back and runs again (none of their
   * effects had been committed, so nothing happens twice).
   */
  batchFailed(actors: DispatchedActor[], failure: BatchFailure): void {
    // No turn running: the worker died outside any handler (e.g. while loading a module);
    // then each actor's first message takes the blame, so a module that kills its worker cannot loop.
    const blameFirst = failure.running.every((i) => i < 0);
    for (const { cell, deliveries, init, slot } of actors) {
      if (init === true) {
        cell.needsInit = true; // the restart's init died with the worker: it runs again
        if (failure.running[slot] === 0) {
          // It was init itself that was running: the child failed again, with no message to blame.
          this.initSettled(cell, deliveries, { ok: false, error: this.lostWorker(cell, failure, slot).err.toWire(true) });
          continue;
        }
      }
      const index = blameFirst ? 0 : failure.running[slot]! - (init === true ? 1 : 0);
      const culprit = index >= 0 ? deliveries[index] : undefined;
      this.requeue(cell, deliveries.filter((d) => d !== culprit));
      if (culprit === undefined) continue;
      if (cell.status === 'stopping' || cell.status === 'stopped') {
        // Terminated because it would not yield to its stop: that is the stop, not a crash.
        this.core.reject(cell, culprit, aosError('ERR_ACTOR_STOPPED', `actor ${cell.id} was stopped; its turn did not yield and its worker was terminated`, { actorId: cell.id }));
        continue;
      }
      const { err, kind } = this.lostWorker(cell, failure, slot);
      this.turnFailed(cell, culprit, err, kind);
    }
  }

  /** Why an actor's running turn lost its worker: terminated for memory (whichever turn allocated
   *  it), terminated because this turn overran its limit, or the worker died. */
  private lostWorker(cell: ActorCell, failure: BatchFailure, slot: number): { err: AosError; kind: FailureKind } {
    const { memory, cause } = failure;
    if (memory !== undefined) {
      const message = `the worker running ${cell.id} held ${memory.externalBytes} bytes outside the V8 heap (limit ${memory.limit}) and was terminated`;
      return { kind: 'worker-died', err: aosError('ERR_MEMORY_LIMIT', message, { actorId: cell.id, externalBytes: memory.externalBytes, limit: memory.limit }, cause) };
    }
    if (failure.overdue.has(slot)) {
      const message = `a turn of ${cell.id} ran past ${cell.turnTimeoutMs} ms and its worker was terminated`;
      return { kind: 'timeout', err: aosError('ERR_TURN_TIMEOUT', message, { actorId: cell.id, timeoutMs: cell.turnTimeoutMs }, cause) };
    }
    return { kind: 'worker-died', err: aosError('ERR_WORKER_DIED', `the worker running ${cell.id} died`, { actorId: cell.id }, cause) };
  }

  /** Actions the worker refused at the call site: the broker records them (the kernel decides again). */
  private recordRefused(cell: ActorCell, d: Delivery, refused: Refused[]): void {
    const actor = { id: cell.id, type: cell.addr.type };
    for (const r of refused) this.core.broker.recordRefused(actor, r.action, r.target, r.reason, { messageId: d.env.id, correlationId: d.env.correlationId }, r.rule);
  }

  /** Commits a turn's intents in order; resolves nothing but returns the approval requests still being stored. */
  commitIntents(cell: ActorCell, origin: Origin, intents: Intent[]): Promise<unknown>[] {
    const stored: Promise<unknown>[] = [];
    for (const intent of intents) {
      try {
        if (intent.t === 'held') {
          const p = this.commitHeld(cell, origin, intent);
          if (p !== undefined) stored.push(p);
        } else this.commitIntent(cell, origin, intent);
      } catch (err) {
        this.core.log.error({ actor: cell.id, intent: intent.t, err: toAosError(err).toWire() }, 'an intent could not be committed');
      }
    }
    return stored;
  }

  /**
   * A publish or tell the worker held for a person: decided again here (the kernel trusts no
   * worker), then stored as an approval request under the id the handler was given. If the
   * policy no longer holds it, it is performed (allowed) or refused (denied) like any intent.
   */
  private commitHeld(cell: ActorCell, origin: Origin, intent: Extract<Intent, { t: 'held' }>): Promise<unknown> | undefined {
    const subject = intent.action === 'tell' ? this.core.subjects.actor(parseAgentId(intent.target)) : assertSubject(intent.target);
    const ids = origin.causationId == null ? { correlationId: origin.correlationId } : { messageId: origin.causationId, correlationId: origin.correlationId };
    const args = safeDecode(intent.payload);
    const d = this.core.broker.decide({ id: cell.id, type: cell.addr.type }, intent.action, subject, ids, { args: () => args });
    if (d.allow) {
      if (intent.action === 'tell') this.core.outbox.tell(origin, intent.target, { format: 'msgpack', payload: intent.payload });
      else this.core.outbox.publish(origin, subject, { format: 'msgpack', payload: intent.payload });
      return;
    }
    const approvals = this.core.approvals();
    if (d.route === undefined || approvals === undefined || !/^[0-9a-f]{16}$/.test(intent.id)) {
      this.core.log.warn({ actor: cell.id, action: intent.action, target: intent.target, rule: d.rule, reason: d.reason }, 'held intent not stored: denied, or no approval queue');
      return;
    }
    const request = {
      id: intent.id,
      requester: cell.id,
      role: d.role,
      owner: d.owner,
      action: { kind: intent.action, target: intent.target, args },
      route: d.route,
      correlationId: origin.correlationId ?? '',
      causationId: origin.causationId ?? null,
    };
    return approvals.request(request).catch((err: unknown) => this.core.log.error({ actor: cell.id, approval: intent.id, err: toAosError(err).toWire() }, 'an approval request could not be stored'));
  }

  /** The broker decides an intent before it is committed; a denied one does nothing (the decision is recorded). */
  private allowed(cell: ActorCell, origin: Origin, action: Action, target: string, payload?: Uint8Array): boolean {
    const ids = origin.causationId == null ? { correlationId: origin.correlationId } : { messageId: origin.causationId, correlationId: origin.correlationId };
    // A message an approval rule would hold but the worker did not (a policy changed mid-turn, or a tampered worker) is denied here.
    const args = payload === undefined ? undefined : () => safeDecode(payload);
    const d = this.core.broker.decide({ id: cell.id, type: cell.addr.type }, action, target, ids, args === undefined ? {} : { args });
    if (!d.allow) this.core.log.warn({ actor: cell.id, action, target, rule: d.rule, reason: d.reason, policy: d.policy }, 'intent denied at commit');
    return d.allow;
  }

  private commitIntent(cell: ActorCell, origin: Origin, intent: Intent): void {
    switch (intent.t) {
      case 'tell':
        if (!this.allowed(cell, origin, 'tell', this.core.subjects.actor(parseAgentId(intent.to)), intent.payload)) return;
        break;
      case 'publish':
        if (!this.allowed(cell, origin, 'publish', intent.subject, intent.payload)) return;
        break;
      case 'spawn':
        if (!this.allowed(cell, origin, 'spawn', intent.type)) return;
        break;
      case 'stop':
        if (!this.allowed(cell, origin, 'stop', intent.id)) return;
        break;
    }
    switch (intent.t) {
      case 'tell':
        this.core.outbox.tell(origin, intent.to, { format: 'msgpack', payload: intent.payload });
        return;
      case 'publish':
        this.core.outbox.publish(origin, assertSubject(intent.subject), { format: 'msgpack', payload: intent.payload });
        return;
      case 'spawn':
        this.core.spawnCell(intent.module, { type: intent.type, key: intent.key, tasks: intent.tasks }, undefined).catch((err: unknown) =>
          this.core.log.error({ actor: cell.id, spawn: `${intent.type}/${intent.key}`, err: toAosError(err).toWire(true) }, 'spawn requested by an actor failed'),
        );
        return;
      case 'stop':
        if (this.core.cells.has(intent.id)) void this.core.stopCell(intent.id, { shutdownMs: 5_000, exit: intent.id === cell.id ? 'normal' : 'shutdown' });
        else this.core.broadcastStop(intent.id);
        return;
    }
  }
}

/** A payload's value for approval conditions (null when it does not decode: a condition on a missing field holds). */
function safeDecode(payload: Uint8Array): unknown {
  try {
    return decodeValue(payload, 'msgpack');
  } catch {
    return null;
  }
}
