// A running supervisor: OTP's supervisor behaviour over the kernel's SupervisionHost. Like an
// OTP supervisor process it handles one event at a time (a queue of operations), so a restart
// never interleaves with another. Children start in order and stop in reverse; more than
// `maxRestarts` restarts within `withinMs` and it stops its children and fails to its parent;
// a root that gives up publishes an escalation and the node keeps serving everything else.

import type { ChildFailure, ChildWatcher, ExitKind, SupervisionHost, SupervisorHandle } from '../runtime/supervision-port.js';
import { nextBackoff, FRESH_BACKOFF, type BackoffState } from './backoff.js';
import { isSupervisorSpec, type ResolvedActorChild, type SupervisorSpec } from './spec.js';
import { addRestart, EMPTY_WINDOW, type RestartWindow } from './intensity.js';
import { shouldRestart, type ExitReason } from './restart-decision.js';
import { aosError } from '../runtime/errors/aos-error.js';
import type { ActorNode, SupervisorNode } from './tree.js';

type Status = 'starting' | 'running' | 'stopping' | 'stopped' | 'failed';

interface Failure {
  code: string;
  message: string;
  kind: string;
  at: number;
}

interface ActorChild {
  kind: 'actor';
  spec: ResolvedActorChild;
  id: string;
  status: 'running' | 'restarting' | 'stopped';
  restarts: number;
  lastFailure?: Failure;
  backoff: BackoffState;
}

interface SupervisorChild {
  kind: 'supervisor';
  spec: SupervisorSpec;
  id: string;
  sup: Supervisor;
  status: 'running' | 'restarting' | 'stopped';
  restarts: number;
  lastFailure?: Failure;
  backoff: BackoffState;
}

type Child = ActorChild | SupervisorChild;

/** Told when a child supervisor gave up. */
export interface SupervisorParent {
  supervisorFailed(child: Supervisor, reason: { code: string; message: string; offender?: string }): void;
}

export class Supervisor implements ChildWatcher, SupervisorHandle {
  /** For each child whose last exit was a failed turn: that message and its chain (trace records of the crash and restart). */
  private readonly traceIds = new WeakMap<Child, { messageId: string; correlationId: string }>();
  status: Status = 'starting';
  private children: Child[] = [];
  private window: RestartWindow = EMPTY_WINDOW;
  private ops: Promise<void> = Promise.resolve();
  private poolSeq = 0;

  constructor(
    readonly spec: SupervisorSpec,
    private readonly host: SupervisionHost,
    private readonly parent: SupervisorParent | undefined,
    private readonly random: () => number = Math.random,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** Starts the children in order; if one fails to start, stops the started ones in reverse and rejects. */
  async start(): Promise<void> {
    const initial: (ResolvedActorChild | SupervisorSpec)[] = this.spec.pool
      ? Array.from({ length: this.spec.pool.size }, () => this.poolChild())
      : [...this.spec.children];
    try {
      for (const c of initial) this.children.push(await this.launch(c));
      this.status = 'running';
    } catch (err) {
      // The child's own code (ERR_TRACE_LOG, ERR_DENIED...), ERR_CONFIG for an error without one.
      const code = (err as { code?: unknown }).code;
      this.log('start_error', { code: typeof code === 'string' && code.startsWith('ERR_') ? code : 'ERR_CONFIG', message: String((err as Error).message) });
      await this.stopChildren();
      this.status = 'failed';
      throw err;
    }
  }

  /** Stops the children in reverse order; the supervisor reacts to nothing afterwards. */
  stop(): Promise<void> {
    return this.enqueue(async () => {
      if (this.status === 'stopped') return;
      this.status = 'stopping';
      await this.stopChildren();
      this.status = 'stopped';
    });
  }

  /** Pool supervisors: starts one more child from the template; resolves to its AgentId. */
  startChild(key?: string): Promise<string> {
    return this.enqueueValue(async () => {
      if (this.spec.pool === undefined) {
        throw aosError('ERR_CONFIG', `supervisor ${this.name} is not a pool: its children are fixed`, { supervisor: this.name });
      }
      const child = await this.launch(this.poolChild(key));
      this.children.push(child);
      return child.id;
    });
  }

  /** Pool supervisors: stops one child and forgets it. */
  stopChild(id: string): Promise<boolean> {
    return this.enqueueValue(async () => {
      const child = this.children.find((c) => c.id === id);
      if (child === undefined) return false;
      await this.stopOne(child);
      this.children = this.children.filter((c) => c !== child);
      return true;
    });
  }

  describe(): SupervisorNode {
    return {
      kind: 'supervisor',
      name: this.name,
      strategy: this.spec.pool ? 'pool' : this.spec.strategy,
      status: this.status,
      restarts: this.window.restarts.length,
      intensity: this.spec.intensity,
      children: this.children.map((c): SupervisorNode | ActorNode =>
        c.kind === 'supervisor'
          ? { ...c.sup.describe(), timesRestarted: c.restarts, ...(c.lastFailure ? { lastFailure: c.lastFailure } : {}) }
          : { kind: 'actor', id: c.id, status: c.status, restart: c.spec.restart, restarts: c.restarts, ...(c.lastFailure ? { lastFailure: c.lastFailure } : {}) },
      ),
    };
  }

  // ---- ChildWatcher: events from the kernel ------------------------------------------

  childFailed(id: string, failure: ChildFailure): void {
    const ids = failure.messageId === '' ? undefined : { messageId: failure.messageId, correlationId: failure.correlationId };
    void this.enqueue(() => this.onFailure(id, { kind: 'failure', failure: failure.kind, code: failure.error.code }, failure.error.message, failure.error.stack, ids));
  }

  childExited(id: string, reason: ExitKind): void {
    void this.enqueue(() => this.onFailure(id, { kind: reason }, `stopped (${reason})`));
  }

  supervisorFailed(child: Supervisor, reason: { code: string; message: string }): void {
    void this.enqueue(() => this.onFailure(`supervisor:${child.name}`, { kind: 'failure', failure: 'threw', code: reason.code }, reason.message));
  }

  // ---- policy -----------------------------------------------------------------------

  private async onFailure(id: string, reason: ExitReason, message: string, cause?: string, ids?: { messageId: string; correlationId: string }): Promise<void> {
    const child = this.children.find((c) => c.id === id);
    if (child === undefined || this.status !== 'running') {
      // A child of a supervisor that is stopping, or already forgotten: nothing to restart.
      if (child?.kind === 'actor' && reason.kind === 'failure') this.host.resumeChild(id);
      return;
    }
    const now = this.host.clock.now();
    const code = reason.kind === 'failure' ? reason.code : reason.kind;
    if (reason.kind === 'failure') child.lastFailure = { code, message, kind: reason.failure, at: now };
    // The termination and the restart it causes join the failed message's chain in the trace.
    if (ids !== undefined && reason.kind === 'failure') this.traceIds.set(child, ids);
    else this.traceIds.delete(child);
    this.log('child_terminated', { code, message, ...(cause === undefined ? {} : { cause }) }, child);
    const directive = child.kind === 'actor' && reason.kind === 'failure' ? child.spec.directives[reason.failure] : 'restart';
    if (directive === 'resume' && child.kind === 'actor') {
      this.host.resumeChild(id);
      return;
    }
    if (directive === 'escalate') return this.giveUp({ code, message, offender: id });
    if (directive === 'stop' || !shouldRestart(child.spec.restart, reason)) {
      await this.stopOne(child);
      if (this.spec.pool) this.children = this.children.filter((c) => c !== child);
      return;
    }
    const added = addRestart(this.window, now, this.spec.intensity);
    this.window = added.window;
    if (added.exceeded) {
      return this.giveUp({ code: 'ERR_INTENSITY', message: `more than ${this.spec.intensity.maxRestarts} restarts within ${this.spec.intensity.withinMs} ms`, offender: id });
    }
    const backoff = nextBackoff(child.backoff, now, this.spec.backoff, this.random);
    child.backoff = backoff.state;
    const index = this.children.indexOf(child);
    const affected =
      this.spec.pool || this.spec.strategy === 'one_for_one'
        ? [child]
        : this.spec.strategy === 'one_for_all'
          ? this.children.filter((c) => c.status !== 'stopped')
          : this.children.slice(index).filter((c) => c.status !== 'stopped');
    // OTP: a temporary sibling taken down with the failed child is not restarted (it stays in
    // the tree as stopped, so an operator sees it; a pool forgets it).
    for (const c of [...affected].reverse()) {
      if (c !== child && c.spec.restart === 'temporary') {
        await this.stopOne(c);
        if (this.spec.pool) this.children = this.children.filter((x) => x !== c);
      }
    }
    // In order, as OTP starts them. Unlike OTP, siblings restarted with the failed child keep
    // the messages queued for them (they are re-initialised, not killed), so nothing is lost.
    for (const c of affected.filter((x) => x === child || x.spec.restart !== 'temporary')) await this.restartOne(c, c === child ? backoff.delayMs : 0, reason.kind !== 'failure' && c === child);
  }

  private async restartOne(child: Child, delayMs: number, gone: boolean): Promise<void> {
    child.status = 'restarting';
    child.restarts++;
    this.log('restart', { code: child.lastFailure?.code ?? 'restart', message: `restart after ${delayMs} ms` }, child);
    if (child.kind === 'supervisor') {
      await child.sup.stop();
      const sup = new Supervisor(child.spec, this.host, this, this.random);
      await sup.start();
      child.sup = sup;
    } else if (gone) {
      // The actor stopped itself (or was stopped): start it again.
      await this.host.startChild(child.spec, this);
    } else {
      await this.host.restartChild(child.id, { delayMs, shutdownMs: child.spec.shutdownMs });
    }
    child.status = 'running';
  }

  /** Intensity exceeded or a child escalated: stop every child in reverse and fail upward. */
  private async giveUp(reason: { code: string; message: string; offender?: string }): Promise<void> {
    this.status = 'stopping';
    this.log('shutdown', reason);
    await this.stopChildren();
    this.status = 'failed';
    if (this.parent !== undefined) this.parent.supervisorFailed(this, reason);
    else this.host.escalate({ supervisor: this.name, reason: { code: reason.code, message: reason.message }, ...(reason.offender ? { offender: reason.offender } : {}) });
  }

  private async launch(spec: ResolvedActorChild | SupervisorSpec): Promise<Child> {
    if (isSupervisorSpec(spec)) {
      const sup = new Supervisor(spec, this.host, this, this.random);
      await sup.start();
      return { kind: 'supervisor', spec, id: `supervisor:${spec.name}`, sup, status: 'running', restarts: 0, backoff: FRESH_BACKOFF };
    }
    const id = await this.host.startChild(spec, this);
    return { kind: 'actor', spec, id, status: 'running', restarts: 0, backoff: FRESH_BACKOFF };
  }

  private async stopOne(child: Child): Promise<void> {
    if (child.status === 'stopped') return;
    if (child.kind === 'supervisor') await child.sup.stop();
    else await this.host.stopChild(child.id, { shutdownMs: child.spec.shutdownMs });
    child.status = 'stopped';
  }

  private async stopChildren(): Promise<void> {
    for (const c of [...this.children].reverse()) await this.stopOne(c);
  }

  private poolChild(key?: string): ResolvedActorChild {
    const t = this.spec.pool!.template;
    return { ...t, key: key ?? `${this.name}-${++this.poolSeq}` };
  }

  /** One structured record per crash, restart and shutdown, as OTP's crash reports. */
  private log(context: 'child_terminated' | 'restart' | 'shutdown' | 'start_error', reason: { code: string; message: string; cause?: string }, offender?: Child): void {
    const record = {
      supervisor: this.name,
      context,
      reason,
      ...(offender === undefined
        ? {}
        : {
            offender:
              offender.kind === 'actor'
                ? { id: offender.id, module: String(offender.spec.module), restart: offender.spec.restart, shutdownMs: offender.spec.shutdownMs }
                : { id: offender.id, restart: offender.spec.restart },
          }),
    };
    const ids = (context === 'child_terminated' || context === 'restart') && offender !== undefined ? (this.traceIds.get(offender) ?? {}) : {};
    this.host.record({ event: context, ...record, ...(offender === undefined ? {} : { actor: offender.id }), ...ids });
    if (context === 'restart') this.host.log.info(record, `supervisor ${this.name}: ${context}`);
    else this.host.log.error(record, `supervisor ${this.name}: ${context}`);
  }

  // One operation at a time, like an OTP supervisor process; each counts as node activity from
  // the moment it is queued, so the node is not idle while a restart waits its turn.
  private enqueue(op: () => Promise<void>): Promise<void> {
    return this.enqueueValue(op).catch((err: unknown) => {
      this.host.log.error({ supervisor: this.name, err }, 'supervisor operation failed');
    });
  }

  private enqueueValue<T>(op: () => Promise<T>): Promise<T> {
    const result = this.host.during(() => this.ops.then(op, op));
    this.ops = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
