// ActorSystem: one node of the runtime, and its public face. It owns the NATS connection, the
// worker pool and the local actors' cells, spawns, stops and supervises them, and shuts down
// without losing what it accepted. The way in is inbox.ts, turn results are turn-results.ts,
// what supervisors may ask is supervision-host.ts. Actor code never runs here: only in the pool.

import { resolveModule } from './module-url.js';
import type { Subscription } from 'nats';
import type { Logger } from 'pino';
import { ActorCell, type MailboxOptions } from './actor-cell.js';
import type { ActorRef } from './actor-ref.js';
import { agentId, parseAgentId, type AgentId } from './address.js';
import { systemClock, type Clock } from './clock.js';
import { ControlPlane } from './control.js';
import { DeadLetters } from './dead-letters.js';
import type { SpawnOptions } from './define-actor.js';
import { Dispatcher, Watchdog } from './dispatcher.js';
import { compact, decodeValue, encodeValue } from './envelope.js';
import { AosError, aosError, fromWire, toAosError } from './errors/aos-error.js';
import { newToken } from './ids.js';
import { createLogger } from './logger.js';
import { DEFAULT_MAILBOX_CAPACITY } from './mailbox.js';
import { Outbox } from './outbox.js';
import { WorkerPool } from './pool.js';
import { assertSubject, Subjects } from './subjects.js';
import type { NodeCore } from './node-core.js';
import { Quiescence } from './quiescence.js';
import { NodeSupervisionHost } from './supervision-host.js';
import { TurnResults } from './turn-results.js';
import { Broker, deniedError, type Suspension } from './broker/broker.js';
import { loadPolicyFile, parsePolicy } from './broker/policy-schema.js';
import { Governance, type GovernanceStatus } from './governance.js';
import { TraceEmitter } from './trace/trace-emitter.js';
import { OtelSpans } from './trace/otel.js';
import { TRACER_TYPE, traceQuerySchema } from './trace/trace-query.js';
import { TracePublisher } from './trace/trace-publisher.js';
import { TraceStreams } from './trace/trace-streams.js';
import { openGovernance, type NodeGovernance } from './governance-start.js';
import { WorkerRequests } from './worker-requests.js';
import { ToolRegistry, type ToolRegistration } from './tools/tool-registry.js';
import { Inbox } from './inbox.js';
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_TURN_TIMEOUT_MS, validateOptions, type ActorSystemOptions } from './system-options.js';
import { EmbeddedNats } from './transport/embedded-nats.js';
import { ApprovalService } from './approvals/approval-service.js';
import { ApprovalStore } from './approvals/approval-store.js';
import { nodeApprovalHost } from './approvals/approval-host.js';
import type { ApprovalItem } from './approvals/approval-types.js';
import { NatsTransport } from './transport/nats-transport.js';
import { cancelledIndex, progressBuffer, progressThread, slotRunning, type BatchResult, type Intent } from './wire.js';
import type { ChildWatcher, ExitKind, Supervisable, SupervisorHandle } from './supervision-port.js';

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
  /** Its role and owner under the policy in force (null: the policy gives its type none, so it may do nothing). */
  role: string | null;
  owner: string | null;
  /** Held by the kill switch. */
  suspended: boolean;
  module: string;
  tasks: readonly string[];
  status: string;
  mailbox: number;
  turns: number;
  failures: number;
}

type SystemState = 'running' | 'draining' | 'stopped';

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
  private readonly maxMessageBytes: number;
  private readonly askTimeoutMs: number;
  private readonly mailboxDefaults: Required<MailboxOptions>;
  private state: SystemState = 'running';
  private readonly quiet: Quiescence;
  private shutdownPromise: Promise<void> | undefined;
  private readonly supervisors: SupervisorHandle[] = [];
  private readonly results: TurnResults;
  private readonly inbox: Inbox;
  /** What supervisors may ask of this node (supervisors/ implements the policy). */
  private readonly host: NodeSupervisionHost;
  /** Decides every action of every actor (see broker/broker.ts). */
  readonly broker: Broker;
  private readonly governance: Governance;
  private readonly tools: ToolRegistry;
  private readonly traceStreams: TraceStreams;
  private readonly trace: TraceEmitter;
  private readonly tracePublisher: TracePublisher;
  private readonly requests: WorkerRequests;
  /** The approval queue (JetStream KV): undefined when the server has no JetStream. */
  private approvalService: ApprovalService | undefined;
  private readonly core: NodeCore;
  /** Supervision trees by name, so a person can restart one that gave up. */
  private readonly supervisorSpecs = new Map<string, Supervisable>();
  /** How the last instance of each type was spawned here, so a person can restart a type left with none. */
  private readonly lastSpawn = new Map<string, { module: string; options: SpawnActorOptions }>();

  private constructor(
    private readonly options: ActorSystemOptions,
    private readonly transport: NatsTransport,
    private readonly pool: WorkerPool,
    private readonly embedded: EmbeddedNats | undefined,
    nodeId: string,
    log: Logger,
    governance: NodeGovernance,
    otel: OtelSpans | undefined,
  ) {
    this.nodeId = nodeId;
    this.log = log;
    this.clock = options.clock ?? systemClock;
    this.subjects = new Subjects(options.namespace ?? 'aos');
    this.systemId = agentId('system', nodeId);
    this.maxMessageBytes = Math.min(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, transport.maxPayload);
    this.askTimeoutMs = options.askTimeoutMs ?? 30_000;
    this.mailboxDefaults = { capacity: options.mailbox?.capacity ?? DEFAULT_MAILBOX_CAPACITY, overflow: options.mailbox?.overflow ?? 'reject' };
    this.tracePublisher = new TracePublisher({
      transport,
      subject: this.subjects.trace(nodeId),
      clock: this.clock,
      log,
      onDropped: (count) => this.trace.other({ type: 'trace', event: 'dropped', count, at: this.clock.now(), node: nodeId }),
      ...(options.traceBufferRecords === undefined ? {} : { maxRecords: options.traceBufferRecords }),
    });
    this.trace = new TraceEmitter(
      nodeId,
      this.clock,
      options.tracing === 'unpublished' ? { send: () => undefined } : this.tracePublisher,
      this.maxMessageBytes,
      (subject) => this.subjects.isTrace(subject),
      () => this.quiet.until(() => this.quiet.idle),
    );
    this.trace.enabled = options.tracing !== false;
    this.deadLetters = new DeadLetters(transport, this.subjects, nodeId, log, () => this.clock.now(), (env, subject, code) => {
      this.trace.envelope('dead-lettered', env.to, env, subject, code);
    });
    this.broker = new Broker({
      nodeId,
      clock: this.clock,
      policy: governance.policy,
      record: (r) => this.trace.other(r),
      traceSaturated: () => this.tracePublisher.saturated,
      onBudgetSuspend: (id, budget) => void this.suspend(id, { reason: `budget ${budget} exhausted`, by: `broker/${nodeId}` }).catch((err: unknown) => log.error({ err, actor: id }, 'could not suspend an actor whose budget ran out')),
    });
    this.tools = new ToolRegistry(log, this.clock);
    this.traceStreams = new TraceStreams(transport.nc, this.subjects.prefix, (name, spec) => this.tools.register(name, spec));
    this.outbox = new Outbox(transport, this.subjects, this.clock, this.deadLetters, log, (to, d) => this.inbox.deliverLocal(to, d), governance.key, (d, from) => this.requests.replyAllowed(d, from), (claimed, action, env, rule, detail) =>
      this.broker.recordDenial(claimed, action, this.subjects.actor(parseAgentId(env.to)), 'spoof', rule, { messageId: env.id, correlationId: env.correlationId }, { claimed, ...detail }),
      this.trace,
    );
    this.dispatcher = new Dispatcher({
      run: (task) => pool.run(task),
      terminate: (threadId) => pool.terminate(threadId),
      clock: this.clock,
      maxInflight: pool.threads * 2,
      maxTurnsPerActor: options.maxTurnsPerActor ?? 256,
      onResult: (actor, result) => this.results.apply(actor, result),
      onFailure: (actors, failure) => this.results.batchFailed(actors, failure),
      onOverdue: (cell) => this.overdue(cell),
      onSettled: () => this.quiet.wake(),
      limits: (cell) => this.turnLimits(cell),
    });
    this.quiet = new Quiescence(() => this.dispatcher.idle);
    this.requests = new WorkerRequests({
      cells: this.cells,
      broker: this.broker,
      subjects: this.subjects,
      dispatcher: this.dispatcher,
      tools: this.tools,
      log,
      outbox: this.outbox,
      encode: (value) => this.encode(value).payload,
      otel,
      approvals: () => this.approvalService,
    });
    this.inbox = new Inbox({
      cells: this.cells,
      clock: this.clock,
      log,
      maxMessageBytes: this.maxMessageBytes,
      outbox: this.outbox,
      deadLetters: this.deadLetters,
      dispatcher: this.dispatcher,
      quiet: this.quiet,
      broker: this.broker,
      trace: this.trace,
      key: governance.key,
    });
    const core: NodeCore = {
      nodeId,
      systemId: this.systemId,
      subjects: this.subjects,
      log,
      clock: this.clock,
      maxMessageBytes: this.maxMessageBytes,
      cells: this.cells,
      transport,
      outbox: this.outbox,
      deadLetters: this.deadLetters,
      dispatcher: this.dispatcher,
      pool,
      quiet: this.quiet,
      broker: this.broker,
      trace: this.trace,
      otel,
      key: governance.key,
      running: () => this.state === 'running',
      approvals: () => this.approvalService,
      reject: (cell, d, err, raw) => this.inbox.reject(cell, d, err, raw),
      spawnCell: (module, o, watcher) => this.spawnCell(module, o, watcher),
      stopCell: (id, o) => this.stopCell(id, o),
      quiesce: (cell, reason, ms) => this.quiesce(cell, reason, ms),
      subscribeTask: (cell, subject) => this.subscribeTask(cell, subject),
      receiveTask: (cell, msg) => this.inbox.receive(cell, msg, 'task', msg.subject),
      stubEnvelope: (to, msg) => this.inbox.stubEnvelope(to, msg),
      broadcastStop: (id) => this.control.broadcastStop(id),
    };
    this.core = core;
    this.results = new TurnResults(core);
    this.host = new NodeSupervisionHost(core);
    this.control = new ControlPlane(transport, this.subjects, nodeId, log, {
      list: () => this.list(),
      tree: () => this.tree(),
      stop: (id) => this.stop(id),
      serves: (subject) => this.host.servesLocally(subject),
      up: (subject) => this.host.availability.drop(subject),
      policy: () => this.governance.status(),
      suspend: async (target, by, reason) => {
        await this.suspend(target, { by, ...(reason === undefined ? {} : { reason }) });
        return this.governance.status();
      },
      resume: async (target) => ({ resumed: await this.resume(target), ...this.governance.status() }),
      trace: (query) => {
        const tracer = [...this.cells.values()].find((c) => c.addr.type === TRACER_TYPE && c.status === 'running');
        if (tracer === undefined) return undefined;
        const q = traceQuerySchema.safeParse(query);
        if (!q.success) return Promise.reject(aosError('ERR_BAD_REQUEST', 'a trace query is {"kind":"show","correlationId"} | {"kind":"tail",...} | {"kind":"stats"}', { issues: q.error.issues.map((i) => i.message) }));
        return this.ref(tracer.id).ask({ op: 'query', query: q.data });
      },
    });
    this.governance = new Governance({
      nodeId,
      namespace: this.subjects.prefix,
      log,
      clock: this.clock,
      broker: this.broker,
      store: governance.store,
      cells: this.cells,
      toWorkers: (p) => pool.setPolicy(this.subjects.prefix, p.version, p.doc),
      abort: (cell, reason) => this.abortTurn(cell, reason),
      wake: (cell) => this.dispatcher.wake(cell),
      resubscribe: (cell) => this.resubscribe(cell),
      record: (event) => this.trace.other({ ...event, at: this.clock.now(), node: nodeId }),
    });
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
      const governance = await openGovernance(options, transport, log);
      // OpenTelemetry is on only when the user installed @opentelemetry/api and registered a provider.
      const clock = options.clock ?? systemClock;
      const otel = await OtelSpans.load(nodeId, () => clock.now());
      const maxMessageBytes = Math.min(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, transport.maxPayload);
      let system: ActorSystem | undefined;
      const pool = new WorkerPool({
        ...(options.threads === undefined ? {} : { threads: options.threads }),
        ...(options.workerResourceLimits === undefined ? {} : { resourceLimits: options.workerResourceLimits }),
        ...(options.maxWorkerExternalBytes === undefined ? {} : { maxWorkerExternalBytes: options.maxWorkerExternalBytes }),
        config: { logLevel: log.level, logTo: options.logTo ?? 'stdout', nodeId, maxMessageBytes },
        log,
        onAsk: (ask) => system!.requests.ask(ask),
        onCall: (call) => system!.requests.call(call),
        onApproval: (req) => system!.requests.approval(req),
        onReport: (r) => system!.broker.report({ id: r.self, type: r.self.slice(0, r.self.indexOf('/')) }, r.unit, r.amount),
        onQuiet: () => system!.quiet.wake(),
        onEarlyResult: (batchId, result) => system!.dispatcher.early(batchId, result),
      });
      system = new ActorSystem(options, transport, pool, embedded, nodeId, log, governance, otel);
      await system.governance.start();
      if (governance.store !== undefined) await system.startApprovals();
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

  /** Trace records this node has sent that no tracer has acknowledged yet. */
  get traceBacklog(): number {
    return this.tracePublisher.backlog + this.trace.pending;
  }

  /** Dead letters this node has published since start. */
  get deadLetterCount(): number {
    return this.deadLetters.count;
  }

  /** Spawns an actor from a module whose default export is `defineActor({...})`. Resolves once `init` has run. */
  async spawn(module: string | URL, options: SpawnActorOptions): Promise<ActorRef> {
    return this.ref(await this.spawnCell(module, options, undefined));
  }

  private async spawnCell(module: string | URL, options: SpawnActorOptions, watcher: ChildWatcher | undefined): Promise<string> {
    this.assertAccepting();
    const id = agentId(options.type, options.key);
    if (this.cells.has(id)) throw aosError('ERR_ACTOR_EXISTS', `actor ${id} already runs on node ${this.nodeId}`, { actorId: id });
    const tasks = [...(options.tasks ?? []).map((t) => this.subjects.task(t)), ...(options.subscribe ?? []).map((s) => assertSubject(s, { wildcards: true }))];
    const cell = new ActorCell(
      parseAgentId(id),
      resolveModule(module),
      tasks,
      { ...this.mailboxDefaults, ...options.mailbox },
      options.turnTimeoutMs ?? this.options.turnTimeoutMs ?? DEFAULT_TURN_TIMEOUT_MS,
      options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS,
    );
    cell.watcher = watcher;
    if (options.config !== undefined) cell.config = this.encode(options.config).payload;
    // Actors subscribe by grant: every task subject is decided before the actor exists.
    for (const task of tasks) {
      const d = this.broker.decide({ id, type: cell.addr.type }, 'subscribe', task);
      if (!d.allow) throw deniedError(id, 'subscribe', task, d);
    }
    this.governance.adopt(cell);
    this.cells.set(id, cell);
    await this.quiet.during(async () => {
      try {
        const init = await this.runInit(cell);
        this.pool.remember(cell.module);
        const direct = this.subjects.actor(cell.addr);
        // Running before its subscriptions exist: a message that arrives while the server is told
        // of them waits in the mailbox instead of being refused as if the actor were stopping.
        cell.status = 'running';
        cell.subscriptions.push(this.transport.subscribe(direct, (m) => this.inbox.receive(cell, m, 'tell', id), this.subjects.queueGroup('actor')));
        for (const task of tasks) cell.subscriptions.push(this.subscribeTask(cell, task));
        await this.transport.flush(); // the subscriptions are live on the server when spawn resolves
        cell.serving = true;
        for (const task of tasks) {
          this.host.availability.regained(task);
          void this.approvalService?.servedAgain(task).catch((err: unknown) => this.log.warn({ err: toAosError(err).toWire(), task }, 'could not close the escalation of a subject served again'));
        }
        this.results.commitIntents(cell, { from: id }, init);
        this.lastSpawn.set(cell.addr.type, { module: cell.module, options: { ...options, key: cell.addr.key } });
        this.log.info({ actor: id, module: cell.module, tasks }, 'actor spawned');
        this.approvalService?.actorStarted(id);
      } catch (err) {
        const failed = toAosError(err, 'ERR_ACTOR_MODULE', { actorId: id });
        cell.status = 'stopped';
        this.cells.delete(id);
        for (const s of cell.subscriptions) s.unsubscribe();
        // Anything that arrived meanwhile is answered and dead-lettered, never dropped.
        for (const d of cell.mailbox.drain()) this.inbox.reject(cell, d, failed);
        throw failed;
      }
    });
    return id;
  }

  /** Keeps a cell's task subscriptions equal to what the policy in force grants (after a reload). */
  private resubscribe(cell: ActorCell): void {
    if (cell.status !== 'running' || !cell.serving || cell.tasks.length === 0) return;
    const live = new Map(cell.subscriptions.slice(1).map((s) => [s.getSubject(), s] as const));
    for (const task of cell.tasks) {
      const granted = this.broker.decide({ id: cell.id, type: cell.addr.type }, 'subscribe', task).allow;
      const sub = live.get(task);
      if (!granted && sub !== undefined) {
        cell.subscriptions = cell.subscriptions.filter((s) => s !== sub);
        void sub.drain().catch(() => undefined);
        this.log.warn({ actor: cell.id, subject: task }, 'subscription revoked by the policy');
      } else if (granted && sub === undefined) {
        cell.subscriptions.push(this.subscribeTask(cell, task));
        this.log.info({ actor: cell.id, subject: task }, 'subscription granted again by the policy');
      }
    }
  }

  private subscribeTask(cell: ActorCell, subject: string): Subscription {
    return this.transport.subscribe(subject, (m) => this.inbox.receive(cell, m, 'task', m.subject), this.subjects.queueGroup(cell.addr.type));
  }

  /** Runs `init` in a worker and keeps the first state; resolves to the intents init made. */
  private async runInit(cell: ActorCell): Promise<Intent[]> {
    const progress = progressBuffer(1);
    // init has the same time limit as a turn: a spawn never hangs on an init that never ends.
    const watchdog = new Watchdog({ clock: this.clock, onOverdue: (c) => this.overdue(c) }, [{ slot: 0, cell, deliveries: [] }], progress, () =>
      this.pool.terminate(progressThread(progress)),
    );
    let result: BatchResult;
    try {
      result = await this.pool.run({
        kind: 'batch',
        batchId: -1,
        progress,
        actors: [{ slot: 0, self: cell.id, module: cell.module, state: null, init: true, messages: [], ...(cell.config === undefined ? {} : { config: cell.config }), ...this.turnLimits(cell) }],
      });
    } catch (cause) {
      if (cause instanceof AosError && cause.code === 'ERR_MEMORY_LIMIT') throw cause;
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
        this.quiet.activity++;
        this.outbox.tell({ from: this.systemId }, id, this.encode(value));
      },
      ask: async <R>(value: unknown, options: { timeoutMs?: number } = {}): Promise<R> => {
        this.assertAccepting();
        this.quiet.activity++;
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
    return this.quiet.during(async () => {
      await this.host.tasksLosing(cell);
      await Promise.all(cell.subscriptions.map((s) => s.drain().catch(() => undefined)));
      const reason = aosError('ERR_ACTOR_STOPPED', `actor ${id} was stopped`, { actorId: id });
      await this.quiesce(cell, reason, options.shutdownMs);
      if (cell.failed !== undefined) this.inbox.reject(cell, cell.failed.delivery, cell.failed.error);
      cell.failed = undefined;
      for (const d of cell.mailbox.drain()) this.inbox.reject(cell, d, reason);
      cell.status = 'stopped';
      this.cells.delete(id);
      this.broker.forget(id);
      this.log.info({ actor: id }, 'actor stopped');
      if (options.exit !== undefined) cell.watcher?.childExited(id, options.exit);
      return true;
    });
  }

  /** Ends the cell's in-flight turn: aborted through ctx.signal, its worker terminated after `shutdownMs`. */
  private async quiesce(cell: ActorCell, reason: AosError, shutdownMs: number): Promise<void> {
    const batch = cell.batch;
    if (!cell.busy || batch === undefined) return;
    // Its own turns only: the worker starts no more of them, the running one is aborted, and
    // the other actors of the batch go on undisturbed unless this one will not yield.
    Atomics.store(new Int32Array(batch.progress), cancelledIndex(batch.slot), 1);
    this.abortTurn(cell, reason);
    const quiet = () => cell.batch !== batch || !slotRunning(batch.progress, batch.slot);
    const timer = this.clock.setTimeout(() => {
      if (!quiet()) batch.terminate();
    }, shutdownMs);
    await this.quiet.until(quiet);
    this.clock.clearTimeout(timer);
  }

  /** Opens a JetStream stream as a trace log (creating it if missing; ERR_TRACE_LOG if it does not verify) for this node's tracer, which reaches it through the tools `trace.append` and `trace.query` (startTracer's `stream`). */
  openTraceStream(stream: string): Promise<void> {
    return this.traceStreams.open(stream);
  }

  /** Opens the namespace's trace anchors stream (creating it if missing: no deletes, no purges) for this node's tracer, which anchors its file log's head there through the tool `trace.anchor` (startTracer's `anchorEveryMs`); the stream's name. */
  openTraceAnchors(): Promise<string> {
    return this.traceStreams.openAnchors(this.nodeId, () => this.clock.now());
  }

  /** Registers a tool actors may call with `ctx.call(name, args)` when their role is granted it: `{ input, output, run }` runs here, in
   *  the kernel; `{ module }` (a module default-exporting `defineTool`) runs in the tool pool, a worker pool of its own. */
  registerTool<I, O>(name: string, spec: ToolRegistration<I, O>): void {
    this.tools.register(name, spec as ToolRegistration);
  }

  /** The policy in force on this node, and the suspensions. */
  get governanceStatus(): GovernanceStatus {
    return this.governance.status();
  }

  /** Validates a policy and applies it to every node of the namespace (through JetStream KV), or to this node alone without JetStream. */
  async applyPolicy(policy: unknown): Promise<{ version: string; revision: number }> {
    const doc = typeof policy === 'string' ? await loadPolicyFile(policy) : parsePolicy(policy, 'the policy');
    return this.governance.apply(doc);
  }

  /** The kill switch: `target` is an AgentId or `role:<name>`. Every further action is denied, in-flight turns and tool calls are aborted; on every node. */
  async suspend(target: string, options: { reason?: string; by?: string } = {}): Promise<void> {
    if (!target.startsWith('role:')) parseAgentId(target);
    await this.governance.suspend(target, options.by ?? this.systemId, options.reason);
  }

  /** Lifts a suspension; false when none was in force for `target`. */
  resume(target: string): Promise<boolean> {
    return this.governance.resume(target);
  }

  /** Suspensions in force. */
  get suspensions(): Suspension[] {
    return this.broker.suspended;
  }

  /** Starts a supervision tree (from `defineSupervisor`); its children start in order. */
  async supervise(spec: Supervisable): Promise<SupervisorHandle> {
    this.assertAccepting();
    const handle = await spec.start(this.host);
    this.supervisors.push(handle);
    this.supervisorSpecs.set(spec.name, spec);
    return handle;
  }

  private async startApprovals(): Promise<void> {
    const store = await ApprovalStore.open(this.transport.nc, this.subjects.prefix);
    const host = nodeApprovalHost({
      core: this.core,
      tools: this.tools,
      encode: (value) => this.encode(value).payload,
      restart: (item) => this.restartEscalated(item),
    });
    this.approvalService = new ApprovalService(store, host);
    await this.approvalService.start();
  }

  /** A person chose `restart` on an escalation this node raised: the supervision tree that gave up, or a new instance of the type left with none. */
  private async restartEscalated(item: ApprovalItem): Promise<string> {
    const e = item.escalation;
    if (e?.supervisor !== undefined) {
      const spec = this.supervisorSpecs.get(e.supervisor);
      if (spec === undefined) return `no supervision tree ${e.supervisor} on node ${this.nodeId}`;
      const old = this.supervisors.findIndex((s) => s.name === e.supervisor);
      if (old >= 0) {
        await this.supervisors[old]!.stop().catch(() => undefined);
        this.supervisors.splice(old, 1);
      }
      this.supervisors.push(await spec.start(this.host));
      return `supervision tree ${e.supervisor} restarted on node ${this.nodeId}`;
    }
    const last = e?.type === undefined ? undefined : this.lastSpawn.get(e.type);
    if (last === undefined) return `no instance of ${e?.type ?? '?'} was spawned on node ${this.nodeId}: nothing to restart`;
    const id = await this.spawnCell(last.module, last.options, undefined);
    return `${id} spawned on node ${this.nodeId}`;
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
    const policy = this.broker.policy;
    return [...this.cells.values()].map((c) => ({
      id: c.id,
      role: policy.assignment(c.addr.type)?.role ?? null,
      owner: policy.assignment(c.addr.type)?.owner ?? null,
      suspended: c.suspended,
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
      const before = this.quiet.activity;
      await this.transport.flush();
      await this.quiet.until(() => this.quiet.idle);
      if (this.quiet.activity === before) return;
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
      this.quiet.wake();
    }, timeoutMs);
    try {
      this.governance.stop();
      await this.approvalService?.close();
      this.host.availability.close();
      await this.control.close();
      const tasksFirst = [...this.cells.values()].flatMap((c) => c.subscriptions.slice(1));
      await Promise.all(tasksFirst.map((s) => s.drain().catch(() => undefined)));
      await Promise.race([this.whenIdle(), this.quiet.until(() => timedOut)]);
      const direct = [...this.cells.values()].map((c) => c.subscriptions[0]).filter((s): s is Subscription => s !== undefined);
      await Promise.all(direct.map((s) => s.drain().catch(() => undefined)));
      await Promise.race([this.whenIdle(), this.quiet.until(() => timedOut)]);
      if (timedOut) {
        const reason = aosError('ERR_SHUTTING_DOWN', `node ${this.nodeId} shut down before the message was handled`, { nodeId: this.nodeId });
        for (const cell of this.cells.values()) for (const d of cell.mailbox.drain()) this.inbox.reject(cell, d, reason);
        this.log.warn({ deadline }, 'shutdown timed out: queued messages dead-lettered');
      }
    } finally {
      this.clock.clearTimeout(timer);
      this.state = 'stopped';
      this.trace.seal(); // rows not yet in a batch are counted with the rest
      const lost = this.tracePublisher.close();
      if (lost > 0) this.log.warn({ records: lost }, 'trace records not acknowledged by a tracer before shutdown were dropped');
      this.transport.failPending(aosError('ERR_SHUTTING_DOWN', `node ${this.nodeId} shut down`, { nodeId: this.nodeId }));
      await this.transport.close();
      await this.pool.destroy();
      await this.tools.close();
      await this.embedded?.stop();
      this.log.info('node stopped');
    }
  }

  /** What the worker checks an actor's intents with (see Broker.turnLimits). */
  private turnLimits(cell: ActorCell): { policy: string; allowance: number; budgetsLeft?: number[] } {
    return this.broker.turnLimits({ id: cell.id, type: cell.addr.type });
  }

  /** Aborts an actor's in-flight turn (through ctx.signal) and its tool calls. */
  private abortTurn(cell: ActorCell, reason: AosError): void {
    this.pool.abort(cell.id, reason);
    this.tools.abortActor(cell.id, reason);
  }

  /** A turn overran its limit: abort it (the worker ends it; if it is stuck, the watchdog terminates the worker). */
  private overdue(cell: ActorCell): void {
    this.abortTurn(cell, aosError('ERR_TURN_TIMEOUT', `a turn of ${cell.id} ran past ${cell.turnTimeoutMs} ms`, { actorId: cell.id, timeoutMs: cell.turnTimeoutMs }));
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
}
