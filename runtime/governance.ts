// Central governance on one node: keeps the broker's policy and suspensions equal to the
// namespace's store (JetStream KV), refuses a policy that fails validation (the old one
// stays), hands the policy to the workers, re-checks task subscriptions when grants change,
// and enforces the kill switch: a suspended actor takes no more turns, its in-flight turn
// and tool calls are aborted through their signals, and it resumes where it left off.

import type { Logger } from 'pino';
import type { ActorCell } from './actor-cell.js';
import type { Broker, Suspension } from './broker/broker.js';
import type { GovernanceStore, StoredPolicy } from './broker/governance-store.js';
import { Policy } from './broker/policy.js';
import { parsePolicyText, type PolicyDoc } from './broker/policy-schema.js';
import type { Clock } from './clock.js';
import { aosError, toAosError, type AosError } from './errors/aos-error.js';

export interface GovernanceDeps {
  nodeId: string;
  namespace: string;
  log: Logger;
  clock: Clock;
  broker: Broker;
  store: GovernanceStore | undefined;
  cells: Map<string, ActorCell>;
  /** Sends the policy to the workers. */
  toWorkers: (policy: Policy) => void;
  /** Aborts an actor's in-flight turn and tool calls. */
  abort: (cell: ActorCell, reason: AosError) => void;
  /** The cell may run turns again. */
  wake: (cell: ActorCell) => void;
  /** Re-checks the cell's task subscriptions against the policy in force. */
  resubscribe: (cell: ActorCell) => void;
  /** A governance event for the trace (policy applied or refused, suspensions changed). */
  record: (event: Record<string, unknown>) => void;
}

export interface GovernanceStatus {
  node: string;
  policy: { version: string; name: string | null; origin: string; revision: number };
  suspended: Suspension[];
  suspensionsRevision: number;
}

export class Governance {
  private watcher: { stop(): void } | undefined;
  private suspensionsRevision = 0;
  /** Suspensions made on this node while it has no store. */
  private local: Suspension[] = [];

  constructor(private readonly deps: GovernanceDeps) {}

  /** Applies the policy the node starts with, then follows the store. */
  async start(): Promise<void> {
    this.deps.toWorkers(this.deps.broker.policy);
    if (this.deps.store === undefined) return;
    this.watcher = await this.deps.store.watch({
      policy: (p) => this.fromStore(p),
      suspensions: (list, revision) => this.applySuspensions(list, revision),
    });
  }

  stop(): void {
    this.watcher?.stop();
  }

  status(): GovernanceStatus {
    const p = this.deps.broker.policy;
    return {
      node: this.deps.nodeId,
      policy: { version: p.version, name: p.doc.name ?? null, origin: p.origin, revision: p.revision },
      suspended: this.deps.broker.suspended,
      suspensionsRevision: this.suspensionsRevision,
    };
  }

  /** Applies a validated policy: to every node through the store, or to this node alone without one. */
  async apply(doc: PolicyDoc): Promise<{ version: string; revision: number }> {
    if (this.deps.store !== undefined) {
      const revision = await this.deps.store.putPolicy(doc);
      return { version: new Policy(doc, this.deps.namespace).version, revision };
    }
    const policy = new Policy(doc, this.deps.namespace, 'local');
    this.install(policy);
    return { version: policy.version, revision: 0 };
  }

  async suspend(target: string, by: string, reason?: string): Promise<void> {
    const s: Suspension = { target, by, at: this.deps.clock.now(), ...(reason === undefined ? {} : { reason }) };
    await this.changeSuspensions((list) => [...list.filter((x) => x.target !== target), s]);
  }

  /** Lifts a suspension; false when there was none for that target. */
  async resume(target: string): Promise<boolean> {
    let found = false;
    await this.changeSuspensions((list) => {
      found = list.some((x) => x.target === target);
      return list.filter((x) => x.target !== target);
    });
    return found;
  }

  private async changeSuspensions(change: (list: Suspension[]) => Suspension[]): Promise<void> {
    if (this.deps.store !== undefined) {
      const { list, revision } = await this.deps.store.updateSuspensions(change);
      this.applySuspensions(list, revision); // at once here; the watch brings the same to every node
      return;
    }
    this.local = change(this.local);
    this.applySuspensions(this.local, this.suspensionsRevision + 1);
  }

  private fromStore(stored: StoredPolicy): void {
    const current = this.deps.broker.policy;
    if (current.origin === 'store' && stored.revision <= current.revision) return;
    let policy: Policy;
    try {
      policy = new Policy(parsePolicyText(stored.text, `stored policy (revision ${stored.revision})`), this.deps.namespace, 'store', stored.revision);
    } catch (err) {
      const e = toAosError(err, 'ERR_POLICY');
      this.deps.log.error({ revision: stored.revision, err: e.toWire(), inForce: current.version }, 'policy refused: it fails validation; the policy in force stays');
      this.deps.record({ type: 'policy', outcome: 'refused', revision: stored.revision, inForce: current.version, error: e.toWire() });
      return;
    }
    this.install(policy);
  }

  private install(policy: Policy): void {
    const before = this.deps.broker.policy.version;
    this.deps.broker.setPolicy(policy);
    this.deps.toWorkers(policy);
    for (const cell of this.deps.cells.values()) this.deps.resubscribe(cell);
    // A role suspension follows the roles: a type moved into (or out of) a suspended role is held (or freed) now.
    this.applySuspensions(this.deps.broker.suspended, this.suspensionsRevision);
    this.deps.log.info({ version: policy.version, revision: policy.revision, origin: policy.origin, before }, 'policy applied');
    this.deps.record({ type: 'policy', outcome: 'applied', version: policy.version, revision: policy.revision, origin: policy.origin, before });
  }

  private applySuspensions(list: readonly Suspension[], revision: number): void {
    if (revision !== 0 && revision < this.suspensionsRevision) return;
    this.suspensionsRevision = revision;
    const broker = this.deps.broker;
    broker.setSuspensions(list);
    for (const cell of this.deps.cells.values()) {
      const held = broker.suspension({ id: cell.id, type: cell.addr.type });
      if (held !== undefined && !cell.suspended) {
        cell.suspended = true;
        const reason = aosError('ERR_DENIED', `${cell.id} was suspended (${held.target}${held.reason === undefined ? '' : `: ${held.reason}`})`, {
          actorId: cell.id,
          reason: 'suspended',
          rule: `suspended:${held.target}`,
        });
        this.deps.abort(cell, reason);
        this.deps.log.warn({ actor: cell.id, suspension: held }, 'actor suspended: in-flight turn and tool calls aborted');
        this.deps.record({ type: 'suspension', actor: cell.id, suspended: true, target: held.target, by: held.by, reason: held.reason ?? null });
      } else if (held === undefined && cell.suspended) {
        cell.suspended = false;
        this.deps.log.info({ actor: cell.id }, 'actor resumed');
        this.deps.record({ type: 'suspension', actor: cell.id, suspended: false });
        this.deps.wake(cell);
      }
    }
  }

  /** A cell that starts while its id or role is suspended starts suspended. */
  adopt(cell: ActorCell): void {
    cell.suspended = this.deps.broker.suspension({ id: cell.id, type: cell.addr.type }) !== undefined;
  }
}
