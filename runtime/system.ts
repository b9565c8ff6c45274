// ActorSystem: one node of the runtime. It owns the NATS connection, the worker pool, the
// local actors' cells and the dispatcher; it turns inbound messages into mailbox entries,
// turn results into committed effects, and every failure into a typed reply, a dead letter
// and a log record. Actor code never runs here: only in the pool.

import { isAbsolute, resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Msg, Subscription } from 'nats';
import type { Logger } from 'pino';
import { ActorCell, awaitsReply, type Delivery, type MailboxOptions } from './actor-cell.js';
import type { ActorRef } from './actor-ref.js';
import { agentId, parseAgentId, type AgentId } from './address.js';
import { systemClock, type Clock } from './clock.js';
import { Availability } from './availability.js';
import { ControlPlane } from './control.js';
import { DeadLetters } from './dead-letters.js';
import type { SpawnOptions } from './define-actor.js';
import { Dispatcher, Watchdog, type BatchFailure, type DispatchedActor } from './dispatcher.js';
import { compact, decodeValue, encodeValue, type Envelope, type EnvelopeKind } from './envelope.js';
import { aosError, fromWire, toAosError, type AosError } from './errors/aos-error.js';
import { newToken } from './ids.js';
import { InboundError, parseInbound } from './inbound.js';
import { createLogger } from './logger.js';
import { DEFAULT_MAILBOX_CAPACITY } from './mailbox.js';
import { Outbox, type Origin } from './outbox.js';
import { WorkerPool, type AskAnswer, type AskFromWorker } from './pool.js';
import { Subjects, assertSubject } from './subjects.js';
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_TURN_TIMEOUT_MS, validateOptions, type ActorSystemOptions } from './system-options.js';
import { EmbeddedNats } from './transport/embedded-nats.js';
import { NatsTransport } from './transport/nats-transport.js';
import { progressBuffer, progressThread, type BatchResult, type Intent, type TurnOutcome } from './wire.js';
import type { ActorChildStart, ChildWatcher, EscalationEvent, ExitKind, FailureKind, Supervisable, SupervisionHost, SupervisorHandle } from './supervision-port.js';

export interface SpawnActorOptions extends SpawnOptions {
  mailbox?: MailboxOptions;
  /** This actor's turn time limit in ms (default: the node's `turnTimeoutMs`; 0: none). */
  turnTimeoutMs?: number;
  /** Supervised actors: tries of a message whose turn fails before it is dead-lettered (default 3). */
  maxAttempts?: number;
}

export const DEFAULT_MAX_ATTEMPTS = 3;

export interface ActorInfo {
  id: string;
  module: string;
  tasks: readonly string[];
  status: string;
  mailbox: number;
  turns: number;
  failures: number;
}

type SystemState = 'running' | 'draining' | 'stopped';
const INPUT_CODES = new Set(['ERR_DECODE', 'ERR_INPUT_SCHEMA', 'ERR_PAYLOAD_TOO_LARGE']);
const FAILURE_KINDS: Partial<Record<string, FailureKind>> = {
  ERR_OUTPUT_SCHEMA: 'output-schema',
  ERR_ENCODE: 'output-schema',
  ERR_TURN_TIMEOUT: 'timeout',
  ERR_WORKER_DIED: 'worker-died',
};

/** A failed or restarting actor still takes messages: they wait in its mailbox for the restart. */
function acceptsMessages(cell: ActorCell): boolean {
  return cell.status === 'running' || cell.status === 'failed' || cell.status === 'restarting';
}

function resolveModule(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) return new URL(module).href;
  return pathToFileURL(isAbsolute(module) ? module : resolvePath(module)).href;
}

export class ActorSystem {
  readonly nodeId: string;
  readonly subjects: Subjects;
  readonly log: Logger;
  readonly clock: Clock;
  /** The identity a node uses when it sends on its own behalf (refs used from outside any actor). */
  readonly systemId: AgentId;
  private readonly cells = new Map<string, ActorCell>();
  private readonly deadLetters: DeadLetters;
  private readonly outbox: Outbox;
  private readonly dispatcher: Dispatcher;
  private readonly control: ControlPlane;
  private readonly availability: Availability;
  private readonly maxMessageBytes: number;
  private readonly askTimeoutMs: number;
  private readonly mailboxDefaults: Required<MailboxOptions>;
  private state: SystemState = 'running';
  private pendingOps = 0;
  private activity = 0;
  private idleWaiters: (() => void)[] = [];
  private shutdownPromise: Promise<void> | undefined;
  private readonly supervisors: SupervisorHandle[] = [];
  /** What supervisors may ask of this node (supervisors/ implements the policy). */
  private readonly host: SupervisionHost;

  private constructor(
    private readonly options: ActorSystemOptions,
    private readonly transport: NatsTransport,
    private readonly pool: WorkerPool,
    private readonly embedded: EmbeddedNats | undefined,
    nodeId: string,
    log: Logger,
  ) {
    this.nodeId = nodeId;
    this.log = log;
    this.clock = options.clock ?? systemClock;
    this.subjects = new Subjects(options.namespace ?? 'aos');
    this.systemId = agentId('system', nodeId);
    this.maxMessageBytes = Math.min(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, transport.maxPayload);
    this.askTimeoutMs = options.askTimeoutMs ?? 30_000;
    this.mailboxDefaults = { capacity: options.mailbox?.capacity ?? DEFAULT_MAILBOX_CAPACITY, overflow: options.mailbox?.overflow ?? 'reject' };
    this.deadLetters = new DeadLetters(transport, this.subjects, nodeId, log, () => this.clock.now());
    this.outbox = new Outbox(transport, this.subjects, this.clock, this.deadLetters, log, (to, d) => this.deliverLocal(to, d));
    this.dispatcher = new Dispatcher({
      run: (task) => pool.run(task),
      terminate: (threadId) => pool.terminate(threadId),
      clock: this.clock,
      maxInflight: pool.threads * 2,
      maxTurnsPerActor: options.maxTurnsPerActor ?? 256,
      onResult: (actors, result) => this.applyResult(actors, result),
      onFailure: (actors, failure) => this.batchFailed(actors, failure),
      onOverdue: (cell) => this.overdue(cell),
      onSettled: () => this.wakeIdleWaiters(),
    });
    this.availability = new Availability(transport, this.subjects, log, {
      servesLocally: (subject) => this.servesLocally(subject),
      unavailable: (type, msg) => this.unavailable(type, msg),
      escalate: (event) => this.escalate(event),
    });
    this.control = new ControlPlane(transport, this.subjects, nodeId, log, {
      list: () => this.list(),
      tree: () => this.tree(),
      stop: (id) => this.stop(id),
      serves: (subject) => this.servesLocally(subject),
      up: (subject) => this.availability.drop(subject),
    });
    this.host = {
      clock: this.clock,
      log,
      startChild: (spec, watcher) => this.startChild(spec, watcher),
      restartChild: (id, o) => this.restartChild(id, o),
      resumeChild: (id) => this.resumeChild(id),
      stopChild: async (id, o) => {
        await this.stopCell(id, { shutdownMs: o.shutdownMs, exit: undefined });
      },
      escalate: (event) => this.escalate(event),
    };
  }

  /** Starts a node. With no `nats` URL it starts an embedded nats-server and stops it on shutdown. */
  static async start(options: ActorSystemOptions = {}): Promise<ActorSystem> {
    validateOptions(options);
    const nodeId = options.nodeId ?? `n${newToken(4)}`;
    agentId('system', nodeId); // validates the node id as a token
    const log = options.logger ?? createLogger({ nodeId, ...(options.logLevel === undefined ? {} : { level: options.logLevel }), ...(options.logTo === undefined ? {} : { to: options.logTo }) });
    const embedded = options.nats === undefined ? await EmbeddedNats.start() : undefined;
    const servers = options.nats ?? embedded!.url;
    let transport: NatsTransport | undefined;
    try {
      transport = await NatsTransport.connect({ servers, name: `aos-node-${nodeId}`, clock: options.clock ?? systemClock, log });
      const maxMessageBytes = Math.min(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, transport.maxPayload);
      let system: ActorSystem | undefined;
      const pool = new WorkerPool({
        ...(options.threads === undefined ? {} : { threads: options.threads }),
        ...(options.workerResourceLimits === undefined ? {} : { resourceLimits: options.workerResourceLimits }),
        config: { logLevel: log.level, logTo: options.logTo ?? 'stdout', nodeId, maxMessageBytes },
        log,
        onAsk: (ask) => system!.askFromWorker(ask),
      });
      system = new ActorSystem(options, transport, pool, embedded, nodeId, log);
      await transport.flush();
      log.info({ nats: transport.connectedUrl, threads: pool.threads, namespace: system.subjects.prefix }, 'node started');
      return system;
    } catch (err) {
      await transport?.close();
      await embedded?.stop();
      throw err;
    }
  }

  /** The NATS server this node is connected to. */
  get natsUrl(): string {
    return this.embedded?.url ?? this.options.nats!;
  }

  /** Dead letters this node has published since start. */
  get deadLetterCount(): number {
    return this.deadLetters.count;
  }

  /** Spawns an actor from a module whose default export is `defineActor({...})`. Resolves once `init` has run. */
  async spawn(module: string | URL, options: SpawnActorOptions): Promise<ActorRef> {
    return this.spawnCell(module, options, undefined);
  }

  private async spawnCell(module: string | URL, options: SpawnActorOptions, watcher: ChildWatcher | undefined): Promise<ActorRef> {
    this.assertAccepting();
    const id = agentId(options.type, options.key);
    if (this.cells.has(id)) throw aosError('ERR_ACTOR_EXISTS', `actor ${id} already runs on node ${this.nodeId}`, { actorId: id });
    const tasks = (options.tasks ?? []).map((t) => this.subjects.task(t));
    const cell = new ActorCell(
      parseAgentId(id),
      resolveModule(module),
      tasks,
      { ...this.mailboxDefaults, ...options.mailbox },
      options.turnTimeoutMs ?? this.options.turnTimeoutMs ?? DEFAULT_TURN_TIMEOUT_MS,
      options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    );
    cell.watcher = watcher;
    this.cells.set(id, cell);
    this.pendingOps++;
    try {
      const init = await this.runInit(cell);
      this.pool.remember(cell.module);
      const direct = this.subjects.actor(cell.addr);
      cell.subscriptions.push(this.transport.subscribe(direct, (m) => this.onMessage(cell, m, 'tell', id), this.subjects.queueGroup('actor')));
      for (const task of tasks) {
        cell.subscriptions.push(this.transport.subscribe(task, (m) => this.onMessage(cell, m, 'task', m.subject), this.subjects.queueGroup(cell.addr.type)));
      }
      await this.transport.flush(); // the subscriptions are live on the server when spawn resolves
      cell.status = 'running';
      cell.serving = true;
      for (const task of tasks) this.availability.regained(task);
      this.commitIntents(cell, { from: id }, init);
      this.log.info({ actor: id, module: cell.module, tasks }, 'actor spawned');
    } catch (err) {
      this.cells.delete(id);
      for (const s of cell.subscriptions) s.unsubscribe();
      throw toAosError(err, 'ERR_ACTOR_MODULE', { actorId: id });
    } finally {
      this.pendingOps--;
      this.wakeIdleWaiters();
    }
    return this.ref(id);
  }

  /** Runs `init` in a worker and keeps the first state; resolves to the intents init made. */
  private async runInit(cell: ActorCell): Promise<Intent[]> {
    const progress = progressBuffer(1);
    // init has the same time limit as a turn: a spawn never hangs on an init that never ends.
    const watchdog = new Watchdog({ clock: this.clock, onOverdue: (c) => this.overdue(c) }, [{ cell, deliveries: [] }], progress, () =>
      this.pool.terminate(progressThread(progress)),
    );
    let result: BatchResult;
    try {
      result = await this.pool.run({
        kind: 'batch',
        batchId: -1,
        progress,
        actors: [{ slot: 0, self: cell.id, module: cell.module, state: null, init: true, messages: [] }],
      });
    } catch (cause) {
      throw watchdog.overdue.size > 0
        ? aosError('ERR_TURN_TIMEOUT', `init of ${cell.id} ran past ${cell.turnTimeoutMs} ms and its worker was terminated`, { actorId: cell.id, timeoutMs: cell.turnTimeoutMs }, cause)
        : aosError('ERR_WORKER_DIED', `the worker running init of ${cell.id} died`, { actorId: cell.id }, cause);
    } finally {
      watchdog.stop();
    }
    const init = result.actors[0]!.init!;
    if (!init.ok) throw fromWire(init.error);
    cell.state = result.actors[0]!.state;
    return init.intents;
  }

  /** A ref to any actor, on this node or another. */
  ref(id: string): ActorRef {
    parseAgentId(id);
    return {
      id: id as AgentId,
      tell: (value: unknown) => {
        this.assertAccepting();
        this.activity++;
        this.outbox.tell({ from: this.systemId }, id, this.encode(value));
      },
      ask: async <R>(value: unknown, options: { timeoutMs?: number } = {}): Promise<R> => {
        this.assertAccepting();
        this.activity++;
        const reply = await this.outbox.ask({ from: this.systemId }, id, this.encode(value), options.timeoutMs ?? this.askTimeoutMs);
        return decodeValue(reply.payload, reply.format) as R;
      },
    };
  }

  /** Stops a local actor: no new messages, its in-flight turn aborted through ctx.signal, queued messages answered ERR_ACTOR_STOPPED and dead-lettered. Its supervisor, if any, is told. */
  async stop(id: string): Promise<boolean> {
    return this.stopCell(id, { shutdownMs: 5_000, exit: 'shutdown' });
  }

  /**
   * Stops a cell; after `shutdownMs` a turn that did not yield has its worker terminated.
   * `exit` is what the cell's supervisor is told (undefined when the supervisor itself stops it).
   */
  private async stopCell(id: string, options: { shutdownMs: number; exit: ExitKind | undefined }): Promise<boolean> {
    const cell = this.cells.get(id);
    if (cell === undefined || cell.status === 'stopping' || cell.status === 'stopped') return false;
    cell.status = 'stopping';
    this.pendingOps++;
    try {
      await this.tasksLosing(cell);
      await Promise.all(cell.subscriptions.map((s) => s.drain().catch(() => undefined)));
      const reason = aosError('ERR_ACTOR_STOPPED', `actor ${id} was stopped`, { actorId: id });
      await this.quiesce(cell, reason, options.shutdownMs);
      if (cell.failed !== undefined) this.reject(cell, cell.failed.delivery, cell.failed.error);
      cell.failed = undefined;
      for (const d of cell.mailbox.drain()) this.reject(cell, d, reason);
      cell.status = 'stopped';
      this.cells.delete(id);
      this.log.info({ actor: id }, 'actor stopped');
      if (options.exit !== undefined) cell.watcher?.childExited(id, options.exit);
      return true;
    } finally {
      this.pendingOps--;
      this.wakeIdleWaiters();
    }
  }

  /** Ends the cell's in-flight turn: aborted through ctx.signal, its worker terminated after `shutdownMs`. */
  private async quiesce(cell: ActorCell, reason: AosError, shutdownMs: number): Promise<void> {
    if (!cell.busy) return;
    this.pool.abort(cell.id, reason);
    const timer = this.clock.setTimeout(() => cell.terminateBatch?.(), shutdownMs);
    await this.until(() => !cell.busy);
    this.clock.clearTimeout(timer);
  }

  /** Starts a supervision tree (from `defineSupervisor`); its children start in order. */
  async supervise(spec: Supervisable): Promise<SupervisorHandle> {
    this.assertAccepting();
    const handle = await spec.start(this.host);
    this.supervisors.push(handle);
    return handle;
  }

  /** The live tree: supervisors with their children, restart counts and last failures, and unsupervised actors. */
  tree(): { node: string; supervisors: unknown[]; actors: ActorInfo[] } {
    return {
      node: this.nodeId,
      supervisors: this.supervisors.map((s) => s.describe()),
      actors: this.list().filter((a) => this.cells.get(a.id)?.watcher === undefined),
    };
  }

  list(): ActorInfo[] {
    return [...this.cells.values()].map((c) => ({
      id: c.id,
      module: c.module,
      tasks: c.tasks,
      status: c.status,
      mailbox: c.mailbox.size,
      turns: c.turns,
      failures: c.failures,
    }));
  }

  /** Resolves when this node has nothing left to do: every message it had received or sent to itself is handled. */
  async whenIdle(): Promise<void> {
    for (;;) {
      const before = this.activity;
      await this.transport.flush();
      await this.until(() => this.isIdle());
      if (this.activity === before) return;
    }
  }

  /**
   * Drains, then stops: task subscriptions first (peers take new tasks), then direct ones,
   * handling everything already accepted; then the pool, the connection and any embedded server.
   * Messages still queued after `timeoutMs` are answered ERR_SHUTTING_DOWN and dead-lettered.
   */
  shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    this.shutdownPromise ??= this.doShutdown(options.timeoutMs ?? 30_000);
    return this.shutdownPromise;
  }

  private async doShutdown(timeoutMs: number): Promise<void> {
    this.state = 'draining';
    this.log.info({ actors: this.cells.size }, 'node draining');
    const deadline = this.clock.now() + timeoutMs;
    let timedOut = false;
    const timer = this.clock.setTimeout(() => {
      timedOut = true;
      this.wakeIdleWaiters();
    }, timeoutMs);
    try {
      this.availability.close();
      await this.control.close();
      const tasksFirst = [...this.cells.values()].flatMap((c) => c.subscriptions.slice(1));
      await Promise.all(tasksFirst.map((s) => s.drain().catch(() => undefined)));
      await Promise.race([this.whenIdle(), this.until(() => timedOut)]);
      const direct = [...this.cells.values()].map((c) => c.subscriptions[0]).filter((s): s is Subscription => s !== undefined);
      await Promise.all(direct.map((s) => s.drain().catch(() => undefined)));
      await Promise.race([this.whenIdle(), this.until(() => timedOut)]);
      if (timedOut) {
        const reason = aosError('ERR_SHUTTING_DOWN', `node ${this.nodeId} shut down before the message was handled`, { nodeId: this.nodeId });
        for (const cell of this.cells.values()) for (const d of cell.mailbox.drain()) this.reject(cell, d, reason);
        this.log.warn({ deadline }, 'shutdown timed out: queued messages dead-lettered');
      }
    } finally {
      this.clock.clearTimeout(timer);
      this.state = 'stopped';
      this.transport.failPending(aosError('ERR_SHUTTING_DOWN', `node ${this.nodeId} shut down`, { nodeId: this.nodeId }));
      await this.transport.close();
      await this.pool.destroy();
      await this.embedded?.stop();
      this.log.info('node stopped');
    }
  }

  // ---- inbound ---------------------------------------------------------------------

  private onMessage(cell: ActorCell, msg: Msg, kind: EnvelopeKind, to: string): void {
    this.activity++;
    let delivery: Delivery;
    try {
      const parsed = parseInbound(msg, { to, kind, now: this.clock.now(), maxMessageBytes: this.maxMessageBytes });
      delivery = parsed.delivery;
      if (parsed.claimed.length > 0) {
        this.log.warn({ actor: cell.id, claimed: parsed.claimed, messageId: delivery.env.id }, 'identity headers from outside the runtime ignored');
      }
    } catch (err) {
      if (!(err instanceof InboundError)) throw err;
      const env = err.env;
      const d: Delivery = { env: env ?? this.stubEnvelope(to, msg), subject: msg.subject, replyMode: 'raw' };
      if (msg.reply) d.replyTo = msg.reply;
      this.reject(cell, d, err.error, env === undefined ? msg.data : undefined);
      return;
    }
    this.accept(cell, delivery);
  }

  /** The local route of the Outbox: a message for an actor running here skips NATS. */
  private deliverLocal(to: string, d: Delivery): boolean {
    const cell = this.cells.get(to);
    if (cell === undefined || !acceptsMessages(cell)) return false;
    this.activity++;
    this.accept(cell, d);
    return true;
  }

  private accept(cell: ActorCell, delivery: Delivery): void {
    if (!acceptsMessages(cell)) {
      this.reject(cell, delivery, aosError('ERR_ACTOR_STOPPED', `actor ${cell.id} is stopping`, { actorId: cell.id }));
      return;
    }
    const offer = cell.mailbox.offer(delivery);
    const full = (d: Delivery) =>
      this.reject(cell, d, aosError('ERR_MAILBOX_FULL', `mailbox of ${cell.id} is full (${cell.mailbox.capacity})`, { actorId: cell.id, capacity: cell.mailbox.capacity }));
    if (!offer.accepted) full(offer.rejected);
    else if (offer.evicted !== undefined) full(offer.evicted);
    this.dispatcher.wake(cell);
  }

  private stubEnvelope(to: string, msg: Msg): Envelope {
    return { kind: 'tell', id: '0000000000000000', from: 'unknown', to, correlationId: '0'.repeat(32), causationId: null, sentAt: this.clock.now(), attempt: 0, format: 'json', payload: msg.data.slice(0, 0) };
  }

  /** A message that will not be handled: typed error reply (if the sender waits), dead letter, log. */
  private reject(cell: ActorCell, d: Delivery, err: AosError, raw?: Uint8Array): void {
    this.outbox.replyError(d, cell.id, err);
    this.deadLetters.publish(cell.addr.type, d.subject, err, raw === undefined ? d.env : undefined, raw);
  }

  // ---- turn results ----------------------------------------------------------------

  private applyResult(actors: DispatchedActor[], result: BatchResult): void {
    for (let slot = 0; slot < actors.length; slot++) {
      const { cell, deliveries } = actors[slot]!;
      const r = result.actors[slot]!;
      if (r.init !== undefined && !this.initSettled(cell, deliveries, r.init)) continue;
      cell.state = r.state;
      r.outcomes.forEach((outcome, i) => this.settleTurn(cell, deliveries[i]!, outcome));
      const notReached = deliveries.slice(r.outcomes.length);
      if (notReached.length > 0) cell.mailbox.unshiftAll(notReached);
    }
  }

  /** The init a restarted actor ran at the head of its batch: commit its intents, or, failed, report the child failing again. */
  private initSettled(cell: ActorCell, deliveries: Delivery[], init: TurnOutcome): boolean {
    if (init.ok) {
      this.commitIntents(cell, { from: cell.id }, init.intents);
      return true;
    }
    cell.mailbox.unshiftAll(deliveries);
    cell.needsInit = true;
    const err = fromWire(init.error);
    this.log.error({ actor: cell.id, reason: { code: err.code, message: err.message, stack: err.stack } }, 'init failed after a restart');
    if (cell.watcher === undefined || cell.status !== 'running') return false;
    cell.status = 'failed';
    cell.watcher.childFailed(cell.id, { kind: FAILURE_KINDS[err.code] ?? 'threw', error: err, messageId: '', attempt: 0 });
    return false;
  }

  private settleTurn(cell: ActorCell, d: Delivery, outcome: TurnOutcome): void {
    this.activity++;
    if (outcome.ok) {
      cell.turns++;
      this.commitIntents(cell, { from: cell.id, correlationId: d.env.correlationId, causationId: d.env.id }, outcome.intents);
      if (outcome.reply !== undefined) this.outbox.reply(d, cell.id, outcome.reply);
      else if (awaitsReply(d)) {
        this.outbox.replyError(d, cell.id, aosError('ERR_NO_REPLY', `${cell.id} handled the ask without replying`, { actorId: cell.id, messageId: d.env.id }));
      }
      return;
    }
    const err = fromWire(outcome.error);
    if (INPUT_CODES.has(err.code)) {
      this.reject(cell, d, err);
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
    this.log.error(
      { actor: cell.id, reason: { code: err.code, message: err.message, stack: err.stack }, failure: kind, messageId: d.env.id, correlationId: d.env.correlationId, attempt: d.env.attempt },
      'turn failed: state and effects discarded',
    );
    // A turn aborted because its actor is stopping is not a failure to supervise.
    if (cell.watcher === undefined || this.state !== 'running' || cell.status !== 'running' || err.code === 'ERR_ACTOR_STOPPED') {
      this.reject(cell, d, err);
      return;
    }
    cell.status = 'failed';
    cell.failed = { delivery: d, error: err };
    cell.watcher.childFailed(cell.id, { kind, error: err, messageId: d.env.id, attempt: d.env.attempt });
  }

  /**
   * A batch failed as a whole: its worker died, or was terminated because a turn would not
   * yield. The turn that was running is the failure; every other message of the batch is put
   * back and runs again (none of their effects had been committed, so nothing happens twice).
   */
  private batchFailed(actors: DispatchedActor[], failure: BatchFailure): void {
    // No turn running: the worker died outside any handler (e.g. while loading a module);
    // then each actor's first message takes the blame, so a module that kills its worker cannot loop.
    const blameFirst = failure.running.every((i) => i < 0);
    actors.forEach(({ cell, deliveries, init }, slot) => {
      if (init === true) {
        cell.needsInit = true; // the restart's init died with the worker: it runs again
        if (failure.running[slot] === 0) {
          // It was init itself that was running: the child failed again, with no message to blame.
          const kind = failure.overdue.has(slot) ? 'timeout' : 'worker-died';
          const code = kind === 'timeout' ? 'ERR_TURN_TIMEOUT' : 'ERR_WORKER_DIED';
          this.initSettled(cell, deliveries, { ok: false, error: { code, message: `init of ${cell.id} lost its worker (${kind})` } });
          return;
        }
      }
      const index = blameFirst ? 0 : failure.running[slot]! - (init === true ? 1 : 0);
      const culprit = index >= 0 ? deliveries[index] : undefined;
      cell.mailbox.unshiftAll(deliveries.filter((d) => d !== culprit));
      if (culprit === undefined) return;
      const timedOut = failure.overdue.has(slot);
      const err = timedOut
        ? aosError('ERR_TURN_TIMEOUT', `a turn of ${cell.id} ran past ${cell.turnTimeoutMs} ms and its worker was terminated`, { actorId: cell.id, timeoutMs: cell.turnTimeoutMs }, failure.cause)
        : aosError('ERR_WORKER_DIED', `the worker running ${cell.id} died`, { actorId: cell.id }, failure.cause);
      this.turnFailed(cell, culprit, err, timedOut ? 'timeout' : 'worker-died');
    });
  }

  private commitIntents(cell: ActorCell, origin: Origin, intents: Intent[]): void {
    for (const intent of intents) {
      try {
        this.commitIntent(cell, origin, intent);
      } catch (err) {
        this.log.error({ actor: cell.id, intent: intent.t, err: toAosError(err).toWire() }, 'an intent could not be committed');
      }
    }
  }

  private commitIntent(cell: ActorCell, origin: Origin, intent: Intent): void {
    switch (intent.t) {
      case 'tell':
        this.outbox.tell(origin, intent.to, { format: 'msgpack', payload: intent.payload });
        return;
      case 'publish':
        this.outbox.publish(origin, assertSubject(intent.subject), { format: 'msgpack', payload: intent.payload });
        return;
      case 'spawn':
        this.spawn(intent.module, { type: intent.type, key: intent.key, tasks: intent.tasks }).catch((err: unknown) =>
          this.log.error({ actor: cell.id, spawn: `${intent.type}/${intent.key}`, err: toAosError(err).toWire(true) }, 'spawn requested by an actor failed'),
        );
        return;
      case 'stop':
        if (this.cells.has(intent.id)) void this.stopCell(intent.id, { shutdownMs: 5_000, exit: intent.id === cell.id ? 'normal' : 'shutdown' });
        else this.control.broadcastStop(intent.id);
        return;
    }
  }

  private async askFromWorker(ask: AskFromWorker): Promise<AskAnswer> {
    this.dispatcher.waitingOnAsk(1);
    try {
      const origin: Origin = { from: ask.self, correlationId: ask.correlationId, causationId: ask.causationId };
      const reply = await this.outbox.ask(origin, ask.to, { format: 'msgpack', payload: ask.payload }, ask.timeoutMs);
      return { ok: true, format: reply.format, payload: reply.payload };
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    } finally {
      this.dispatcher.waitingOnAsk(-1);
    }
  }

  /** A turn overran its limit: abort it (the worker ends it; if it is stuck, the watchdog terminates the worker). */
  private overdue(cell: ActorCell): void {
    this.pool.abort(cell.id, aosError('ERR_TURN_TIMEOUT', `a turn of ${cell.id} ran past ${cell.turnTimeoutMs} ms`, { actorId: cell.id, timeoutMs: cell.turnTimeoutMs }));
  }

  // ---- supervision host --------------------------------------------------------------

  private async startChild(spec: ActorChildStart, watcher: ChildWatcher): Promise<string> {
    const { module, ...options } = spec;
    const ref = await this.spawnCell(module, options, watcher);
    return ref.id;
  }

  private async restartChild(id: string, options: { delayMs: number; shutdownMs: number }): Promise<void> {
    const cell = this.cells.get(id);
    if (cell === undefined || cell.status === 'stopping' || cell.status === 'stopped') return;
    cell.status = 'restarting';
    this.pendingOps++;
    try {
      const reason = aosError('ERR_ACTOR_STOPPED', `actor ${id} is restarting`, { actorId: id });
      await this.quiesce(cell, reason, options.shutdownMs);
      // Decided before any backoff: a poison message's asker hears at once, not after the wait.
      this.retryOrBury(cell);
      // While it waits out a backoff, its peers on the task subjects take the work.
      const paused = options.delayMs > 0 ? await this.pauseTasks(cell) : false;
      if (options.delayMs > 0) await new Promise<void>((resolve) => this.clock.setTimeout(resolve, options.delayMs));
      // A fresh state: init runs at once, at the head of the actor's next batch, with the
      // messages waiting for it (one worker round trip, not two). If init fails, the child
      // fails again and its supervisor counts it (initSettled).
      cell.state = null;
      cell.needsInit = true;
      if (paused) this.resumeTasks(cell);
      cell.status = 'running';
      this.log.info({ actor: id, delayMs: options.delayMs }, 'actor restarted');
      this.dispatcher.wake(cell);
    } finally {
      this.pendingOps--;
      this.wakeIdleWaiters();
    }
  }

  /** The failed message goes back to the front of the mailbox for another try, or, out of tries, is dead-lettered (a poison message). */
  private retryOrBury(cell: ActorCell): void {
    const failed = cell.failed;
    cell.failed = undefined;
    if (failed === undefined) return;
    const d = failed.delivery;
    if (d.env.attempt + 1 < cell.maxAttempts) {
      d.env.attempt++;
      cell.mailbox.unshiftAll([d]);
      return;
    }
    const err = aosError(failed.error.code, `${failed.error.message} (tried ${d.env.attempt + 1} times; dead-lettered as a poison message)`, {
      ...failed.error.details,
      attempts: d.env.attempt + 1,
    });
    err.stack = failed.error.stack ?? err.stack;
    this.reject(cell, d, err);
  }

  private resumeChild(id: string): void {
    const cell = this.cells.get(id);
    if (cell === undefined || cell.status !== 'failed') return;
    if (cell.failed !== undefined) this.reject(cell, cell.failed.delivery, cell.failed.error);
    cell.failed = undefined;
    cell.status = 'running';
    this.dispatcher.wake(cell);
    this.wakeIdleWaiters();
  }

  private async pauseTasks(cell: ActorCell): Promise<boolean> {
    const tasks = cell.subscriptions.slice(1);
    if (tasks.length === 0) return false;
    await this.tasksLosing(cell);
    cell.subscriptions = cell.subscriptions.slice(0, 1);
    await Promise.all(tasks.map((s) => s.drain().catch(() => undefined)));
    return true;
  }

  private resumeTasks(cell: ActorCell): void {
    for (const task of cell.tasks) {
      cell.subscriptions.push(this.transport.subscribe(task, (m) => this.onMessage(cell, m, 'task', m.subject), this.subjects.queueGroup(cell.addr.type)));
      this.availability.regained(task);
    }
    cell.serving = true;
  }

  /** The cell is about to stop serving its task subjects: if it is the last instance anywhere, stand in (ERR_UNAVAILABLE). */
  private async tasksLosing(cell: ActorCell): Promise<void> {
    cell.serving = false;
    if (this.state !== 'running') return; // a node that shuts down hands its tasks to its peers, or to no one
    await Promise.all(cell.tasks.map((task) => this.availability.losing(task, cell.addr.type)));
  }

  private servesLocally(subject: string): boolean {
    for (const c of this.cells.values()) if (c.serving && c.tasks.includes(subject)) return true;
    return false;
  }

  /** A message on a subject no instance serves: answered ERR_UNAVAILABLE (if the sender waits) and dead-lettered. */
  private unavailable(type: string, msg: Msg): void {
    this.activity++;
    const err = aosError('ERR_UNAVAILABLE', `no instance of ${type} serves ${msg.subject}`, { type, subject: msg.subject });
    let d: Delivery;
    try {
      d = parseInbound(msg, { to: msg.subject, kind: 'task', now: this.clock.now(), maxMessageBytes: this.maxMessageBytes }).delivery;
    } catch (e) {
      d = { env: (e instanceof InboundError ? e.env : undefined) ?? this.stubEnvelope(msg.subject, msg), subject: msg.subject, replyMode: 'raw' };
      if (msg.reply) d.replyTo = msg.reply;
    }
    this.outbox.replyError(d, this.systemId, err);
    this.deadLetters.publish(type, msg.subject, err, d.env);
  }

  private escalate(event: EscalationEvent): void {
    const body = { node: this.nodeId, at: this.clock.now(), ...event };
    this.log.error({ escalation: body }, `escalation: ${event.supervisor !== undefined ? `supervisor ${event.supervisor} gave up` : event.reason.message} (${event.reason.code})`);
    try {
      this.transport.publish(this.subjects.event('escalation'), new TextEncoder().encode(JSON.stringify(body)), { headers: this.transport.jsonHeaders });
    } catch (err) {
      this.log.error({ err }, 'could not publish an escalation (it is in this log record)');
    }
  }

  // ---- helpers ---------------------------------------------------------------------

  private encode(value: unknown): { format: 'msgpack'; payload: Uint8Array } {
    let payload: Uint8Array;
    try {
      payload = encodeValue(value, 'msgpack');
    } catch (err) {
      throw aosError('ERR_ENCODE', 'value cannot be encoded as msgpack', {}, err);
    }
    if (payload.length > this.maxMessageBytes) {
      throw aosError('ERR_PAYLOAD_TOO_LARGE', `message of ${payload.length} bytes exceeds ${this.maxMessageBytes}`, { size: payload.length, limit: this.maxMessageBytes });
    }
    return { format: 'msgpack', payload: compact(payload) };
  }

  private assertAccepting(): void {
    if (this.state !== 'running') throw aosError('ERR_SHUTTING_DOWN', `node ${this.nodeId} is shutting down`, { nodeId: this.nodeId });
  }

  private isIdle(): boolean {
    return this.dispatcher.idle && this.pendingOps === 0;
  }

  private until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const check = () => {
        if (predicate()) resolve();
        else this.idleWaiters.push(check);
      };
      this.idleWaiters.push(check);
    });
  }

  /** Lets every waiter re-check its condition (after a batch settles or an operation ends). */
  private wakeIdleWaiters(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}
