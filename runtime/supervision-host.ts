// What supervisors may ask of this node (the SupervisionHost port): start, restart, resume and
// stop children, and escalate. Failover lives here too: a child that stops serving its task
// subjects hands them to its peers, or, when none is left anywhere, to the Availability stand-in.

import type { Msg } from 'nats';
import type { ActorCell, Delivery } from './actor-cell.js';
import { Availability } from './availability.js';
import { aosError, toAosError } from './errors/aos-error.js';
import { heldTask } from './approvals/approval-host.js';
import { InboundError, parseInbound } from './inbound.js';
import type { NodeCore } from './node-core.js';
import type { ActorChildStart, ChildWatcher, EscalationEvent, SupervisionHost } from './supervision-port.js';

export class NodeSupervisionHost implements SupervisionHost {
  readonly availability: Availability;

  constructor(private readonly core: NodeCore) {
    this.availability = new Availability(core.transport, core.subjects, core.log, {
      servesLocally: (subject) => this.servesLocally(subject),
      unavailable: (type, msg) => this.unavailable(type, msg),
      escalate: (event) => this.escalate(event),
    });
  }

  get clock() {
    return this.core.clock;
  }

  record(event: Record<string, unknown>): void {
    this.core.trace.other({ type: 'supervision', at: this.core.clock.now(), node: this.core.nodeId, ...event });
  }

  get log() {
    return this.core.log;
  }

  async startChild(spec: ActorChildStart, watcher: ChildWatcher): Promise<string> {
    const { module, ...options } = spec;
    return this.core.spawnCell(module, options, watcher);
  }

  during<T>(op: () => Promise<T>): Promise<T> {
    return this.core.quiet.during(op);
  }

  async stopChild(id: string, options: { shutdownMs: number }): Promise<void> {
    await this.core.stopCell(id, { shutdownMs: options.shutdownMs, exit: undefined });
  }

  async restartChild(id: string, options: { delayMs: number; shutdownMs: number }): Promise<void> {
    const cell = this.core.cells.get(id);
    if (cell === undefined || cell.status === 'stopping' || cell.status === 'stopped') return;
    cell.status = 'restarting';
    const inits = cell.restartInits;
    await this.core.quiet.during(async () => {
      const reason = aosError('ERR_ACTOR_STOPPED', `actor ${id} is restarting`, { actorId: id });
      await this.core.quiesce(cell, reason, options.shutdownMs);
      // While it waits out a backoff, its peers on the task subjects take the work (stepped
      // aside before the failed message is answered, so a client that hears the error and
      // sends again reaches a peer).
      const paused = options.delayMs > 0 ? await this.pauseTasks(cell) : false;
      // Decided before the backoff: a poison message's asker hears at once, not after the wait.
      this.retryOrBury(cell);
      if (options.delayMs > 0) await new Promise<void>((resolve) => this.core.clock.setTimeout(resolve, options.delayMs));
      if (cell.status !== 'restarting') return; // stopped while it waited
      // A fresh state: init runs at once, at the head of the actor's next batch, with the
      // messages waiting for it (one worker round trip, not two). If init fails, the child
      // fails again and its supervisor counts it (initSettled).
      cell.state = null;
      cell.needsInit = true;
      if (paused) this.resumeTasks(cell);
      cell.status = 'running';
      this.core.log.info({ actor: id, delayMs: options.delayMs }, 'actor restarted');
      this.core.dispatcher.wake(cell);
    });
    // As OTP starts children, one at a time: the supervisor restarts the next sibling (rest_for_one,
    // one_for_all) once this one's init has run, so a later child's init sees the earlier ones
    // initialised. No wait for an actor that failed again, was stopped or is suspended meanwhile.
    await this.core.quiet.until(() => cell.restartInits > inits || cell.status !== 'running' || cell.suspended);
  }

  /** The failed message goes back to the front of the mailbox for another try, or, out of tries, is dead-lettered (a poison message). */
  private retryOrBury(cell: ActorCell): void {
    const failed = cell.failed;
    cell.failed = undefined;
    if (failed === undefined) return;
    const d = failed.delivery;
    if (d.env.attempt + 1 < cell.maxAttempts) {
      this.core.trace.settleSent(d); // as it was sent: attempt 0
      d.env.attempt++;
      this.core.trace.envelope('retried', cell.id, d.env, d.subject, failed.error.code);
      cell.mailbox.unshiftAll([d]);
      return;
    }
    const err = aosError(failed.error.code, `${failed.error.message} (tried ${d.env.attempt + 1} times; dead-lettered as a poison message)`, {
      ...failed.error.details,
      attempts: d.env.attempt + 1,
    });
    err.stack = failed.error.stack ?? err.stack;
    this.core.reject(cell, d, err);
  }

  resumeChild(id: string): void {
    const cell = this.core.cells.get(id);
    if (cell === undefined || cell.status !== 'failed') return;
    if (cell.failed !== undefined) this.core.reject(cell, cell.failed.delivery, cell.failed.error);
    cell.failed = undefined;
    cell.status = 'running';
    this.core.dispatcher.wake(cell);
    this.core.quiet.wake();
  }

  private async pauseTasks(cell: ActorCell): Promise<boolean> {
    const tasks = cell.subscriptions.slice(1);
    if (tasks.length === 0) return false;
    await this.tasksLosing(cell);
    cell.subscriptions = cell.subscriptions.slice(0, 1);
    await Promise.all(tasks.map((s) => s.drain().catch(() => undefined)));
    return true;
  }

  resumeTasks(cell: ActorCell): void {
    for (const task of cell.tasks) {
      cell.subscriptions.push(this.core.subscribeTask(cell, task));
      this.availability.regained(task);
    }
    cell.serving = true;
  }

  /** The cell is about to stop serving its task subjects: if it is the last instance anywhere, stand in (ERR_UNAVAILABLE). */
  async tasksLosing(cell: ActorCell): Promise<void> {
    cell.serving = false;
    if (!this.core.running()) return; // a node that shuts down hands its tasks to its peers, or to no one
    await Promise.all(cell.tasks.map((task) => this.availability.losing(task, cell.addr.type)));
  }

  servesLocally(subject: string): boolean {
    for (const c of this.core.cells.values()) if (c.serving && c.tasks.includes(subject)) return true;
    return false;
  }

  /** A message on a subject no instance serves: answered ERR_UNAVAILABLE (if the sender waits) and dead-lettered. */
  private unavailable(type: string, msg: Msg): void {
    for (const c of this.core.cells.values()) {
      if (c.serving && c.tasks.includes(msg.subject)) return this.core.receiveTask(c, msg);
    }
    this.core.quiet.activity++;
    const err = aosError('ERR_UNAVAILABLE', `no instance of ${type} serves ${msg.subject}`, { type, subject: msg.subject });
    let d: Delivery;
    try {
      d = parseInbound(msg, { to: msg.subject, kind: 'task', now: this.core.clock.now(), maxMessageBytes: this.core.maxMessageBytes, key: this.core.key, firstSeen: () => true }).delivery;
    } catch (e) {
      d = { env: (e instanceof InboundError ? e.env : undefined) ?? this.core.stubEnvelope(msg.subject, msg), subject: msg.subject, replyMode: 'raw' };
      if (msg.reply) d.replyTo = msg.reply;
    }
    // Kept on the subject's open escalation too, so a person can reroute it or answer in the agent's place.
    const approvals = this.core.approvals();
    let escalation: string | undefined;
    if (approvals !== undefined) {
      const open = approvals.openEscalation(msg.subject);
      if (open !== undefined) {
        escalation = open;
        void approvals.holdTask(msg.subject, heldTask(d.env, msg.subject, d.replyTo, this.core.clock.now())).catch((e: unknown) => this.core.log.warn({ err: toAosError(e).toWire() }, 'a task could not be kept on its escalation'));
      }
    }
    this.core.outbox.replyError(d, this.core.systemId, escalation === undefined ? err : aosError('ERR_UNAVAILABLE', err.message, { ...err.details, escalation }));
    this.core.deadLetters.publish(type, msg.subject, err, d.env);
  }

  escalate(event: EscalationEvent): void {
    const body = { node: this.core.nodeId, at: this.core.clock.now(), ...event };
    this.core.log.error({ escalation: body }, `escalation: ${event.supervisor !== undefined ? `supervisor ${event.supervisor} gave up` : event.reason.message} (${event.reason.code})`);
    try {
      this.core.transport.publish(this.core.subjects.event('escalation'), new TextEncoder().encode(JSON.stringify(body)), { headers: this.core.transport.jsonHeaders });
    } catch (err) {
      this.core.log.error({ err }, 'could not publish an escalation (it is in this log record)');
    }
    // And into the approval queue, where a person can act on it (restart, reroute, drop, reply).
    void this.core
      .approvals()
      ?.escalate(event)
      .catch((err: unknown) => this.core.log.error({ err: toAosError(err).toWire() }, 'could not queue an escalation for a person (it is in this log record)'));
  }
}
