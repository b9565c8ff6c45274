// The pure rules of the approval queue: the action hash, conditions on arguments, who may
// decide (signature, role, self-approval, the hash, once), and what a step's timeout does.

import { describe, expect, test } from 'vitest';
import { actionHash, generateApproverKey, parsePolicy, privateKeyOf, type ApprovalItem } from 'autonomy-os';
import { checkDecision, conditionHolds, onTimeout, Policy, signBody } from 'autonomy-os/internal';

const alice = generateApproverKey();
const bob = generateApproverKey();
const policy = new Policy(
  parsePolicy({
    roles: { agent: {}, finance: {} },
    actors: { manager: { role: 'finance' }, '*': { role: 'agent' } },
    people: { alice: { roles: ['finance'], publicKey: alice.publicKey }, bob: { roles: ['support'], publicKey: bob.publicKey } },
  }),
  'aos',
);
const action = { kind: 'call' as const, target: 'payments.refund', args: { amount: 750 } };

function item(over: Partial<ApprovalItem> = {}): ApprovalItem {
  return {
    id: '0123456789abcdef',
    kind: 'approval',
    status: 'pending',
    createdAt: 0,
    node: 'n1',
    requester: 'refunder/r1',
    action,
    actionHash: actionHash(action),
    correlationId: 'c',
    causationId: null,
    chain: [
      { approvers: ['finance'], timeoutMs: 100 },
      { approvers: ['cfo'], timeoutMs: 200 },
    ],
    step: 0,
    deadline: 100,
    onExhausted: 'deny',
    history: [],
    ...over,
  };
}

function body(who: string, pem: string, over: Record<string, unknown> = {}) {
  return signBody({ id: '0123456789abcdef', decision: 'approve' as const, actionHash: actionHash(action), approver: who, at: 1, ...over }, privateKeyOf(pem));
}

describe('approval rules', () => {
  test('the action hash is over kind, target and arguments, whatever their key order', () => {
    expect(actionHash({ kind: 'call', target: 't', args: { a: 1, b: 2 } })).toBe(actionHash({ kind: 'call', target: 't', args: { b: 2, a: 1 } }));
    expect(actionHash({ kind: 'call', target: 't', args: { a: 1 } })).not.toBe(actionHash({ kind: 'call', target: 't', args: { a: 2 } }));
    expect(actionHash({ kind: 'call', target: 't', args: null })).not.toBe(actionHash({ kind: 'publish', target: 't', args: null }));
    expect(actionHash({ kind: 'call', target: 't', args: null })).toMatch(/^[0-9a-f]{64}$/);
  });

  test('conditions compare numbers, match values and lists, and hold when the field is missing', () => {
    expect(conditionHolds({ path: 'amount', gt: 500 }, { amount: 501 })).toBe(true);
    expect(conditionHolds({ path: 'amount', gt: 500 }, { amount: 500 })).toBe(false);
    expect(conditionHolds({ path: 'amount', lte: 10 }, { amount: 10 })).toBe(true);
    expect(conditionHolds({ path: 'customer.country', in: ['FR', 'DE'] }, { customer: { country: 'DE' } })).toBe(true);
    expect(conditionHolds({ path: 'customer.country', eq: 'FR' }, { customer: { country: 'DE' } })).toBe(false);
    expect(conditionHolds({ path: 'items.0.sku', ne: 'X' }, { items: [{ sku: 'Y' }] })).toBe(true);
    expect(conditionHolds({ path: 'amount', gt: 500 }, {})).toBe(true);
    expect(conditionHolds({ path: 'amount', gt: 500 }, { amount: 'a lot' })).toBe(true);
  });
});

describe('approval checks', () => {
  test('a person with the role, signing the requested action, may decide', () => {
    expect(checkDecision(item(), body('alice', alice.privateKeyPem), policy)).toEqual({ ok: true, approver: 'alice' });
  });

  test('refusals name their reason: role, signature, unknown person, hash, self-approval; a second decision is DECIDED', () => {
    const reason = (c: ReturnType<typeof checkDecision>) => (c.ok ? 'ok' : `${c.code}${c.reason === undefined ? '' : ` ${c.reason}`}`);
    expect(reason(checkDecision(item(), body('bob', bob.privateKeyPem), policy))).toBe('ERR_APPROVAL_REFUSED not-approver');
    expect(reason(checkDecision(item(), body('alice', bob.privateKeyPem), policy))).toBe('ERR_APPROVAL_REFUSED signature');
    expect(reason(checkDecision(item(), { ...body('alice', alice.privateKeyPem), reason: 'added after signing' }, policy))).toBe('ERR_APPROVAL_REFUSED signature');
    expect(reason(checkDecision(item(), body('eve', alice.privateKeyPem), policy))).toBe('ERR_APPROVAL_REFUSED unknown-approver');
    expect(reason(checkDecision(item(), body('alice', alice.privateKeyPem, { actionHash: '0'.repeat(64) }), policy))).toBe('ERR_APPROVAL_REFUSED mismatch');
    expect(reason(checkDecision(item({ requester: 'manager/m1' }), { ...body('x', alice.privateKeyPem) }, policy, 'manager/m1'))).toBe('ERR_APPROVAL_REFUSED self-approval');
    expect(reason(checkDecision(item(), body('x', alice.privateKeyPem), policy, 'manager/m1'))).toBe('ok');
    expect(reason(checkDecision(item(), body('x', alice.privateKeyPem), policy, 'refunder/r2'))).toBe('ERR_APPROVAL_REFUSED not-approver');
    expect(reason(checkDecision(item({ status: 'approved' }), body('alice', alice.privateKeyPem), policy))).toBe('ERR_APPROVAL_DECIDED');
    expect(reason(checkDecision(item({ kind: 'escalation' }), body('alice', alice.privateKeyPem), policy))).toBe('ERR_APPROVAL_REFUSED wrong-kind');
  });

  test('a step that times out hands over to the next; the last one applies onExhausted', () => {
    expect(onTimeout(item(), 99)).toBeUndefined();
    const next = onTimeout(item(), 100)!;
    expect(next).toMatchObject({ status: 'pending', step: 1, deadline: 300 });
    expect(next.history.at(-1)).toMatchObject({ event: 'escalated', at: 100 });
    expect(onTimeout(next, 299)).toBeUndefined();
    expect(onTimeout(next, 300)).toMatchObject({ status: 'expired', decision: { by: 'timeout', decision: 'timeout', at: 300 } });
    expect(onTimeout({ ...next, onExhausted: 'approve' }, 300)).toMatchObject({ status: 'approved', decision: { by: 'timeout' } });
    expect(onTimeout(item({ status: 'denied' }), 1000)).toBeUndefined();
  });
});
