// The rules a decision must pass, and the transitions of an item, as pure functions: who may
// decide (a person named in the policy, signed with their key, or an actor by its role, never
// on its own request), on what (the exact action hash the person saw), and when (once).

import type { Policy } from '../broker/policy.js';
import type { ErrorCode } from '../errors/codes.js';
import { publicKeyOf, verifyBody } from './approver-keys.js';
import type { ActBody, ApprovalItem, DecideBody, HistoryEntry } from './approval-types.js';

export type RefusalReason = 'not-approver' | 'self-approval' | 'signature' | 'mismatch' | 'unknown-approver' | 'wrong-kind' | 'malformed';

export type Checked = { ok: true; approver: string } | { ok: false; code: ErrorCode; reason?: RefusalReason; message: string };

function refused(reason: RefusalReason, message: string): Checked {
  return { ok: false, code: 'ERR_APPROVAL_REFUSED', reason, message };
}

/**
 * The roles of whoever decides: a person's (authenticated by the signature over the body), or an
 * actor's by its policy role (authenticated by the node's seal on its envelope).
 */
function rolesOf(policy: Policy, body: DecideBody | ActBody, actor: string | undefined): { roles: string[]; who: string } | Checked {
  if (actor !== undefined) {
    const role = policy.assignment(actor.slice(0, actor.indexOf('/')))?.role;
    return { roles: role === undefined ? [] : [role], who: actor };
  }
  const person = Object.hasOwn(policy.people, body.approver) ? policy.people[body.approver] : undefined;
  if (person === undefined) return refused('unknown-approver', `${JSON.stringify(body.approver)} is not a person in the policy's "people"`);
  const key = publicKeyOf(person.publicKey);
  if (key === undefined || !verifyBody(body as unknown as Record<string, unknown>, key)) return refused('signature', `the decision is not signed with ${body.approver}'s key`);
  return { roles: person.roles, who: body.approver };
}

/** Checks a decision on an approval request. `actor`: the sending actor, when an actor sent it. */
export function checkDecision(item: ApprovalItem, body: DecideBody, policy: Policy, actor?: string): Checked {
  if (item.kind !== 'approval') return refused('wrong-kind', `${item.id} is an escalation: act on it (restart, reroute, drop, reply)`);
  const who = rolesOf(policy, body, actor);
  if ('ok' in who) return who;
  if (item.status !== 'pending') return { ok: false, code: 'ERR_APPROVAL_DECIDED', message: `${item.id} is already ${item.status}${item.decision ? ` (by ${item.decision.by})` : ''}: this decision is ignored` };
  if (who.who === item.requester) return refused('self-approval', `${who.who} cannot decide its own request`);
  // The approvers of the current step, and of the steps before it (escalation adds deciders, it does not remove them).
  const allowed = new Set(item.chain.slice(0, item.step + 1).flatMap((s) => s.approvers));
  if (!who.roles.some((r) => allowed.has(r))) {
    return refused('not-approver', `${who.who} (roles ${who.roles.join(', ') || 'none'}) may not decide ${item.id}: it needs ${[...allowed].join(' or ')}`);
  }
  if (body.actionHash !== item.actionHash) return refused('mismatch', `the decision is for another action (hash ${String(body.actionHash).slice(0, 12)}…), not the one requested (${item.actionHash?.slice(0, 12)}…)`);
  return { ok: true, approver: who.who };
}

/** Checks an action on an escalation: a person (or actor) with a role of the policy's default chain, or anyone in `people` when there is none. */
export function checkAct(item: ApprovalItem, body: ActBody, policy: Policy, actor?: string): Checked {
  if (item.kind !== 'escalation') return refused('wrong-kind', `${item.id} is an approval request: approve or deny it`);
  const who = rolesOf(policy, body, actor);
  if ('ok' in who) return who;
  if (item.status !== 'open') return { ok: false, code: 'ERR_APPROVAL_DECIDED', message: `${item.id} is already ${item.status}: this action is ignored` };
  const chain = policy.defaultRoute?.chain;
  if (chain !== undefined) {
    const allowed = new Set(chain.flatMap((s) => s.approvers));
    if (!who.roles.some((r) => allowed.has(r))) return refused('not-approver', `${who.who} may not act on escalations: it needs ${[...allowed].join(' or ')}`);
  } else if (actor !== undefined) {
    return refused('not-approver', 'with no "approvalDefaults" in the policy, only people act on escalations');
  }
  return { ok: true, approver: who.who };
}

export function withHistory(item: ApprovalItem, entry: HistoryEntry): ApprovalItem {
  // The history is bounded: an item refused many times keeps its first and latest entries.
  const history = item.history.length >= 200 ? [...item.history.slice(0, 20), ...item.history.slice(-179)] : item.history;
  return { ...item, history: [...history, entry] };
}

/** What a step's timeout does: the next step of the chain, or (exhausted) the rule's onExhausted. */
export function onTimeout(item: ApprovalItem, now: number): ApprovalItem | undefined {
  if (item.status !== 'pending' || now < item.deadline) return undefined;
  const next = item.step + 1;
  if (next < item.chain.length) {
    const step = item.chain[next]!;
    return withHistory({ ...item, step: next, deadline: now + step.timeoutMs }, { at: now, event: 'escalated', detail: `no decision in time: now ${step.approvers.join(' or ')}` });
  }
  const approve = item.onExhausted === 'approve';
  const decided: ApprovalItem = { ...item, status: approve ? 'approved' : 'expired', decision: { by: 'timeout', decision: 'timeout', at: now } };
  return withHistory(decided, { at: now, event: approve ? 'decided' : 'expired', by: 'timeout', detail: approve ? 'the chain ran out: approved (onExhausted: approve)' : 'the chain ran out with no decision: denied' });
}
