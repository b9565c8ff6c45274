// The call-site half of the broker, inside a worker: checks an intent against this worker's
// copy of the policy and the actor's rate allowance, so a denied action raises ERR_DENIED
// in the handler where it was made. Advisory only: the kernel decides again, authoritatively,
// before anything reaches the wire (actor code could tamper with anything in this thread).

import { approvable, deniedError } from '../broker/broker.js';
import { checkBudgets } from '../broker/budget-check.js';
import { Policy, type ApprovalRoute, type StaticDecision } from '../broker/policy.js';
import { parsePolicy, type BudgetDoc } from '../broker/policy-schema.js';
import type { Refused } from '../wire.js';

/** The newest policy this worker has heard of (set from the kernel's `policy` message). */
export class PolicyView {
  private current: Policy | undefined;
  namespace = 'aos';

  set(namespace: string, doc: unknown): void {
    this.namespace = namespace;
    try {
      this.current = new Policy(parsePolicy(doc), namespace);
    } catch {
      // The kernel only sends policies it validated; a mismatch means version skew, and the kernel still decides.
      this.current = undefined;
    }
  }

  get policy(): Policy | undefined {
    return this.current;
  }

  /** The direct subject of an actor, as the kernel builds it (tell and ask are checked against it). */
  actorSubject(id: string): string {
    return `${this.namespace}.actor.${id.replace('/', '.')}`;
  }
}

/** What an actor may still do in this batch: rate tokens and what is left of each budget (the kernel's figures at dispatch). */
export interface Allowance {
  tokens: number;
  budgets: number[] | undefined;
}

export class TurnGuard {
  readonly refused: Refused[] = [];

  constructor(
    private readonly view: PolicyView,
    private readonly self: string,
    private readonly allowance: Allowance,
  ) {}

  private get type(): string {
    return this.self.slice(0, this.self.indexOf('/'));
  }

  private refuse(action: Refused['action'], target: string, d: StaticDecision & { policy?: string }): never {
    this.refused.push({ action, target, reason: d.reason ?? 'denied', rule: d.rule });
    throw deniedError(this.self, action, target, d);
  }

  /**
   * Throws the broker's error for a denied intent (and remembers it for the kernel's record).
   * Returns the approval route when a rule holds the action for a person (nothing is spent:
   * limits apply when it is performed).
   */
  check(action: Refused['action'], target: string, args?: unknown): ApprovalRoute | undefined {
    const policy = this.view.policy;
    if (policy !== undefined) {
      const d = policy.check(this.type, action, target, this.self);
      if (!d.allow) this.refuse(action, target, { ...d, policy: policy.version });
      if (d.approvals !== undefined) {
        const route = policy.approvalFor(this.type, d.approvals, args);
        if (route !== undefined) return route;
      }
    }
    if (action === 'subscribe') return undefined;
    if (this.allowance.tokens < 1) this.refuse(action, target, { allow: false, rule: `roles.${this.roleName(policy)}.rateLimit`, reason: 'rate-limit' });
    // Budgets, checked all before any is spent, as the kernel does. A budget that suspends its
    // actor is left to the kernel, which alone can suspend.
    const budgets = this.budgetsOf(policy);
    const check = checkBudgets(budgets, (i) => this.allowance.budgets![i]!, action, target, (b) => b.onExhausted === 'suspend');
    if (check.refused >= 0) {
      const b = budgets[check.refused]!;
      const rule = `roles.${this.roleName(policy)}.budgets[${check.refused}]=${b.name}`;
      const route = b.onExhausted === 'approval' && approvable(action) ? policy?.defaultRoute : undefined;
      if (route !== undefined) return { ...route, rule };
      this.refuse(action, target, { allow: false, rule: `roles.${this.roleName(policy)}.budgets[${check.refused}]=${b.name}`, reason: 'budget', code: b.onExhausted === 'approval' ? 'ERR_APPROVAL_REQUIRED' : 'ERR_DENIED' });
    }
    this.allowance.tokens--;
    for (const i of check.counted) this.allowance.budgets![i]!--;
    return undefined;
  }

  /** Units reported spent: the unit budgets count them at once. */
  report(unit: string, amount: number): void {
    const budgets = this.budgetsOf(this.view.policy);
    for (let i = 0; i < budgets.length; i++) if (budgets[i]!.unit === unit) this.allowance.budgets![i]! -= amount;
  }

  private roleName(policy: Policy | undefined): string {
    return policy?.assignment(this.type)?.role ?? '?';
  }

  /** The role's budgets, when the worker knows both them and what is left of them. */
  private budgetsOf(policy: Policy | undefined): BudgetDoc[] {
    if (policy === undefined || this.allowance.budgets === undefined) return [];
    const role = policy.assignment(this.type)?.role;
    const budgets = role === undefined ? undefined : policy.role(role)?.budgets;
    return budgets !== undefined && budgets.length === this.allowance.budgets.length ? budgets : [];
  }
}
