// The call-site half of the broker, inside a worker: checks an intent against this worker's
// copy of the policy and the actor's rate allowance, so a denied action raises ERR_DENIED
// in the handler where it was made. Advisory only: the kernel decides again, authoritatively,
// before anything reaches the wire (actor code could tamper with anything in this thread).

import { deniedError } from '../broker/broker.js';
import { Policy } from '../broker/policy.js';
import { parsePolicy } from '../broker/policy-schema.js';
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

export class TurnGuard {
  readonly refused: Refused[] = [];
  private allowance: number;

  /** What is left of the allowance for the actor's next turn. */
  get left(): number {
    return this.allowance;
  }

  constructor(
    private readonly view: PolicyView,
    private readonly self: string,
    allowance: number,
  ) {
    this.allowance = allowance;
  }

  /** Throws the broker's error for a denied intent (and remembers it for the kernel's record). */
  check(action: Refused['action'], target: string): void {
    const policy = this.view.policy;
    if (policy !== undefined) {
      const type = this.self.slice(0, this.self.indexOf('/'));
      const d = policy.check(type, action, target, this.self);
      if (!d.allow) {
        this.refused.push({ action, target, reason: d.reason ?? 'denied' });
        throw deniedError(this.self, action, target, { ...d, policy: policy.version });
      }
    }
    if (action === 'subscribe') return;
    if (this.allowance < 1) {
      this.refused.push({ action, target, reason: 'rate-limit' });
      throw deniedError(this.self, action, target, { allow: false, rule: 'rateLimit', reason: 'rate-limit' });
    }
    this.allowance--;
  }
}
