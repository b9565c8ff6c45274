// The capability broker: decides every action of every actor against the policy in force,
// before anything reaches the wire, and records each decision (allow or deny) with the rule
// that decided and the policy version. Deny by default. The kernel is its only caller;
// workers run a copy of the static checks only to raise errors at the call site.

import type { Clock } from '../clock.js';
import { aosError, type AosError } from '../errors/aos-error.js';
import { checkBudgets } from './budget-check.js';
import { BudgetCounter, TokenBucket } from './limits.js';
import { inScope, Policy, type DenyReason, type StaticDecision } from './policy.js';
import type { Action, RoleDoc } from './policy-schema.js';

export interface ActorIdentity {
  /** AgentId `type/key`. */
  id: string;
  type: string;
}

export interface Decision extends StaticDecision {
  policy: string;
  role: string | null;
  owner: string | null;
}

/** One decision, as it goes to the trace subject. */
export interface DecisionRecord {
  type: 'decision';
  at: number;
  node: string;
  actor: string;
  role: string | null;
  owner: string | null;
  action: Action | 'receive' | 'reply';
  target: string;
  allow: boolean;
  rule: string;
  reason?: DenyReason;
  policy: string;
  messageId?: string;
  correlationId?: string;
  /** Extra facts for a denial (the claimed identity of a spoof, the worker's reason, ...). */
  detail?: Record<string, unknown>;
}

export interface TraceIds {
  messageId?: string;
  correlationId?: string;
}

export interface DecideOptions {
  /** The action's arguments (a tool's input, a message's value), for approval rules with conditions; read only when one applies. */
  args?: () => unknown;
  /** A person approved this exact action (approval id): approval rules do not hold it again. */
  approved?: string;
}

/** A kill switch in force: an AgentId, or `role:<name>` for every actor of a role. */
export interface Suspension {
  target: string;
  by: string;
  reason?: string;
  at: number;
}

export interface BrokerOptions {
  nodeId: string;
  clock: Clock;
  policy: Policy;
  record: (r: DecisionRecord) => void;
  /** True while the trace cannot take more records: audited actions are held back. */
  traceSaturated?: () => boolean;
  /** A budget whose `onExhausted` is "suspend" ran out: suspend the actor. */
  onBudgetSuspend?: (actorId: string, budget: string) => void;
}

interface ActorLimits {
  role: RoleDoc;
  bucket: TokenBucket | undefined;
  budgets: BudgetCounter[];
}

export class Broker {
  private policyInForce: Policy;
  private readonly suspensions = new Map<string, Suspension>();
  private readonly limits = new Map<string, ActorLimits>();

  constructor(private readonly opts: BrokerOptions) {
    this.policyInForce = opts.policy;
  }

  get policy(): Policy {
    return this.policyInForce;
  }

  /** Swaps the policy whole: decisions from now on cite the new version. */
  setPolicy(policy: Policy): void {
    this.policyInForce = policy;
  }

  setSuspensions(list: readonly Suspension[]): void {
    this.suspensions.clear();
    for (const s of list) this.suspensions.set(s.target, s);
  }

  get suspended(): Suspension[] {
    return [...this.suspensions.values()];
  }

  /** The suspension that holds an actor (by its id or its role), if any. */
  suspension(actor: ActorIdentity): Suspension | undefined {
    if (this.suspensions.size === 0) return undefined;
    const byId = this.suspensions.get(actor.id);
    if (byId !== undefined) return byId;
    const role = this.policyInForce.assignment(actor.type)?.role;
    return role === undefined ? undefined : this.suspensions.get(`role:${role}`);
  }

  /** Decides one action and records the decision. */
  decide(actor: ActorIdentity, action: Action, target: string, ids: TraceIds = {}, opts: DecideOptions = {}): Decision {
    const policy = this.policyInForce; // one read: the whole decision cites this version
    const assigned = policy.assignment(actor.type);
    const s = this.staticOrLimits(policy, actor, action, target, opts);
    // Built field by field: an object spread here costs more than the cached check itself.
    const d: Decision = { allow: s.allow, rule: s.rule, policy: policy.version, role: assigned?.role ?? null, owner: assigned?.owner ?? null };
    if (s.reason !== undefined) d.reason = s.reason;
    if (s.code !== undefined) d.code = s.code;
    if (s.route !== undefined) d.route = s.route;
    this.record(actor, action, target, d, ids, opts.approved);
    return d;
  }

  private staticOrLimits(policy: Policy, actor: ActorIdentity, action: Action, target: string, opts: DecideOptions): StaticDecision {
    // A suspended actor keeps its subscriptions (its messages wait in its mailbox); every action it would take is refused.
    const held = action === 'subscribe' ? undefined : this.suspension(actor);
    if (held !== undefined) return { allow: false, rule: `suspended:${held.target}`, reason: 'suspended', code: 'ERR_DENIED' };
    const s = policy.check(actor.type, action, target, actor.id);
    if (!s.allow || action === 'subscribe') return s;
    if (s.approvals !== undefined && opts.approved === undefined) {
      const route = policy.approvalFor(actor.type, s.approvals, opts.args?.());
      if (route !== undefined) return { allow: false, rule: route.rule, reason: 'approval', code: 'ERR_APPROVAL_REQUIRED', route };
    }
    if (this.opts.traceSaturated?.() === true) {
      const roleName = policy.assignment(actor.type)?.role;
      const audit = roleName === undefined ? [] : (policy.role(roleName)?.audit ?? []);
      const i = audit.findIndex((a) => inScope(a, action, target));
      if (i >= 0) return { allow: false, rule: `roles.${roleName}.audit[${i}]`, reason: 'audit', code: 'ERR_DENIED' };
    }
    const limits = this.limitsOf(policy, actor);
    if (limits === undefined) return s;
    const now = this.opts.clock.now();
    const roleName = policy.assignment(actor.type)!.role;
    if (limits.bucket !== undefined && limits.bucket.available(now) < 1) {
      return { allow: false, rule: `roles.${roleName}.rateLimit`, reason: 'rate-limit', code: 'ERR_DENIED' };
    }
    // Every limit is checked before any is spent: a denied action uses no token and no budget.
    const budgets = limits.budgets;
    const check = checkBudgets(limits.role.budgets, (i) => budgets[i]!.doc.limit - budgets[i]!.spent(now), action, target);
    if (check.refused >= 0) {
      const b = budgets[check.refused]!.doc;
      const rule = `roles.${roleName}.budgets[${check.refused}]=${b.name}`;
      if (b.onExhausted === 'approval') {
        // A person may let this one through (the policy's default chain); approved, it runs once, past the budget.
        const route = approvable(action) ? policy.defaultRoute : undefined;
        if (opts.approved !== undefined && route !== undefined) return s;
        return route === undefined ? { allow: false, rule, reason: 'budget', code: 'ERR_APPROVAL_REQUIRED' } : { allow: false, rule, reason: 'budget', code: 'ERR_APPROVAL_REQUIRED', route: { ...route, rule } };
      }
      if (b.onExhausted === 'suspend') this.opts.onBudgetSuspend?.(actor.id, b.name);
      return { allow: false, rule, reason: 'budget', code: 'ERR_DENIED' };
    }
    limits.bucket?.take(now);
    for (const i of check.counted) budgets[i]!.use(now, 1);
    return s;
  }

  /** The actor's limits under this policy, rebuilt when its role's definition changes. */
  private limitsOf(policy: Policy, actor: ActorIdentity): ActorLimits | undefined {
    const assigned = policy.assignment(actor.type);
    const role = assigned === undefined ? undefined : policy.role(assigned.role);
    if (role === undefined || (role.rateLimit === undefined && role.budgets.length === 0)) return undefined;
    let l = this.limits.get(actor.id);
    if (l === undefined || (l.role !== role && JSON.stringify(l.role) !== JSON.stringify(role))) {
      const now = this.opts.clock.now();
      l = {
        role,
        bucket: role.rateLimit === undefined ? undefined : new TokenBucket(role.rateLimit.perSecond, role.rateLimit.burst, now),
        budgets: role.budgets.map((b) => new BudgetCounter(b, now)),
      };
      this.limits.set(actor.id, l);
    }
    l.role = role;
    return l;
  }

  /**
   * What a worker checks an actor's intents with for one batch: the policy version, the actions
   * its rate limit allows now (Infinity when none), and what is left of each budget, in the
   * order of its role's `budgets` (absent when it has none).
   */
  turnLimits(actor: ActorIdentity): { policy: string; allowance: number; budgetsLeft?: number[] } {
    const policy = this.policyInForce;
    const l = this.limitsOf(policy, actor);
    if (l === undefined) return { policy: policy.version, allowance: Number.POSITIVE_INFINITY };
    const now = this.opts.clock.now();
    const allowance = l.bucket === undefined ? Number.POSITIVE_INFINITY : l.bucket.available(now);
    if (l.budgets.length === 0) return { policy: policy.version, allowance };
    return { policy: policy.version, allowance, budgetsLeft: l.budgets.map((b) => b.doc.limit - b.spent(now)) };
  }

  /** Actions the actor may still take now before its rate limit bites (Infinity when none). */
  allowance(actor: ActorIdentity): number {
    return this.turnLimits(actor).allowance;
  }

  /** What an actor has spent of each budget. */
  spent(actor: ActorIdentity): Record<string, number> {
    const l = this.limitsOf(this.policyInForce, actor);
    const now = this.opts.clock.now();
    return Object.fromEntries((l?.budgets ?? []).map((b) => [b.doc.name, b.spent(now)]));
  }

  /** Units an actor (or a tool on its behalf) reports, such as model tokens or cost. */
  report(actor: ActorIdentity, unit: string, amount: number): void {
    const l = this.limitsOf(this.policyInForce, actor);
    if (l === undefined) return;
    const now = this.opts.clock.now();
    for (const b of l.budgets) if (b.doc.unit === unit) b.add(now, amount);
  }

  /** Drops an actor's limits when it stops. */
  forget(actorId: string): void {
    this.limits.delete(actorId);
  }

  /**
   * Records an action a worker refused at the call site (so it never reached the kernel as an
   * intent to commit). The kernel decides it again; the worker's own reason is kept only
   * when the kernel's static checks would have allowed it (a rate limit, or a newer policy).
   */
  recordRefused(actor: ActorIdentity, action: Action, target: string, workerReason: string, ids: TraceIds = {}, workerRule?: string): void {
    const policy = this.policyInForce;
    const assigned = policy.assignment(actor.type);
    const s = policy.check(actor.type, action, target, actor.id);
    const d: Decision = s.allow
      ? { allow: false, rule: workerRule !== undefined && assigned !== undefined && workerRule.startsWith(`roles.${assigned.role}.`) ? workerRule : `worker:${workerReason}`, reason: workerReason === 'rate-limit' || workerReason === 'budget' ? workerReason : 'denied', code: 'ERR_DENIED', policy: policy.version, role: assigned?.role ?? null, owner: assigned?.owner ?? null }
      : { ...s, policy: policy.version, role: assigned?.role ?? null, owner: assigned?.owner ?? null };
    this.record(actor, action, target, d, ids);
  }

  /** Records a decision the kernel made outside `decide` (a spoofed identity, a refused reply subject). */
  recordDenial(actor: string, action: DecisionRecord['action'], target: string, reason: DenyReason, rule: string, ids: TraceIds, detail?: Record<string, unknown>): void {
    const rec: DecisionRecord = { type: 'decision', at: this.opts.clock.now(), node: this.opts.nodeId, actor, role: null, owner: null, action, target, allow: false, rule, reason, policy: this.policyInForce.version };
    if (ids.messageId !== undefined) rec.messageId = ids.messageId;
    if (ids.correlationId !== undefined) rec.correlationId = ids.correlationId;
    if (detail !== undefined) rec.detail = detail;
    this.opts.record(rec);
  }

  private record(actor: ActorIdentity, action: Action, target: string, d: Decision, ids: TraceIds, approved?: string): void {
    const rec: DecisionRecord = { type: 'decision', at: this.opts.clock.now(), node: this.opts.nodeId, actor: actor.id, role: d.role, owner: d.owner, action, target, allow: d.allow, rule: d.rule, policy: d.policy };
    if (d.reason !== undefined) rec.reason = d.reason;
    if (approved !== undefined) rec.detail = { approval: approved };
    if (ids.messageId !== undefined) rec.messageId = ids.messageId;
    if (ids.correlationId !== undefined) rec.correlationId = ids.correlationId;
    this.opts.record(rec);
  }
}

/** The actions an approval can hold and the kernel can perform later: tool calls and messages. */
export function approvable(action: Action): action is 'call' | 'publish' | 'tell' {
  return action === 'call' || action === 'publish' || action === 'tell';
}

/** The error a denied decision raises in the handler. */
export function deniedError(actor: string, action: string, target: string, d: StaticDecision & { policy?: string }): AosError {
  const code = d.code ?? 'ERR_DENIED';
  const what = code === 'ERR_APPROVAL_REQUIRED' ? 'needs a human approval' : code === 'ERR_INVALID_SUBJECT' ? 'has a malformed target' : 'is denied';
  return aosError(code, `${action} ${target} by ${actor} ${what} (${d.reason ?? 'denied'}: ${d.rule})`, {
    actorId: actor,
    action,
    target,
    reason: d.reason ?? 'denied',
    rule: d.rule,
    ...(d.policy === undefined ? {} : { policy: d.policy }),
  });
}
