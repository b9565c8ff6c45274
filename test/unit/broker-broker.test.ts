// The broker on a ManualClock: every decision recorded (allow and deny) with the policy
// version, rate limits and budgets per actor instance, suspensions by id and by role, an
// atomic policy swap, and the records the kernel makes outside decide().

import { describe, expect, test } from 'vitest';
import { AosError, ManualClock, parsePolicy, type DecisionRecord } from 'autonomy-os';
import { Broker, deniedError, Policy } from 'autonomy-os/internal';

const NS = 'aos';

function makePolicy(roles: Record<string, unknown>, actors: Record<string, unknown>): Policy {
  return new Policy(parsePolicy({ roles, actors }), NS);
}

const BASE_ROLES = {
  worker: {
    publish: { allow: ['aos.evt.>'], deny: ['aos.evt.secret.>'] },
    subscribe: { allow: ['aos.task.jobs.>'] },
    tell: { allow: ['aos.actor.>'] },
    ask: { allow: ['aos.actor.>'] },
    tools: { allow: ['crm.*', 'payments.>'] },
    spawn: { allow: ['helper'] },
  },
  other: { publish: { allow: ['aos.evt.>'] } },
};
const BASE_ACTORS = { worker: { role: 'worker', owner: 'team-a' }, other: { role: 'other' } };

function setup(opts: { policy?: Policy; start?: number } = {}) {
  const clock = new ManualClock(opts.start ?? 1_000);
  const records: DecisionRecord[] = [];
  const suspendedByBudget: [string, string][] = [];
  const broker = new Broker({
    nodeId: 'n1',
    clock,
    policy: opts.policy ?? makePolicy(BASE_ROLES, BASE_ACTORS),
    record: (r) => records.push(r),
    onBudgetSuspend: (actorId, budget) => suspendedByBudget.push([actorId, budget]),
  });
  return { clock, records, broker, suspendedByBudget };
}

const w1 = { id: 'worker/w1', type: 'worker' };
const w2 = { id: 'worker/w2', type: 'worker' };
const o1 = { id: 'other/o1', type: 'other' };

describe('broker - decision records', () => {
  test('broker - every decision, allowed or denied, is recorded once with the policy version, role, owner and ids', () => {
    const { broker, records, clock } = setup();
    const v = broker.policy.version;
    const allowed = broker.decide(w1, 'publish', 'aos.evt.a', { messageId: 'm1', correlationId: 'c1' });
    clock.advance(5);
    const denied = broker.decide(w1, 'publish', 'aos.evt.secret.a');
    expect(allowed).toEqual({ allow: true, rule: 'roles.worker.publish.allow[0]=aos.evt.>', policy: v, role: 'worker', owner: 'team-a' });
    expect(denied).toMatchObject({ allow: false, reason: 'denied', code: 'ERR_DENIED', policy: v, role: 'worker', owner: 'team-a' });
    expect(records).toEqual([
      { type: 'decision', at: 1_000, node: 'n1', actor: 'worker/w1', role: 'worker', owner: 'team-a', action: 'publish', target: 'aos.evt.a', allow: true, rule: 'roles.worker.publish.allow[0]=aos.evt.>', policy: v, messageId: 'm1', correlationId: 'c1' },
      { type: 'decision', at: 1_005, node: 'n1', actor: 'worker/w1', role: 'worker', owner: 'team-a', action: 'publish', target: 'aos.evt.secret.a', allow: false, rule: 'roles.worker.publish.deny[0]=aos.evt.secret.>', reason: 'denied', policy: v },
    ]);
    // an allowed record has no reason key at all
    expect(Object.hasOwn(records[0]!, 'reason')).toBe(false);
  });

  test('broker - an actor without a role is recorded with role and owner null', () => {
    const { broker, records } = setup();
    const d = broker.decide({ id: 'ghost/g1', type: 'ghost' }, 'tell', 'aos.actor.worker.w1');
    expect(d).toMatchObject({ allow: false, reason: 'no-role', role: null, owner: null });
    expect(records[0]).toMatchObject({ actor: 'ghost/g1', role: null, owner: null, allow: false, reason: 'no-role' });
  });

  test('broker - every action kind is recorded under its own name', () => {
    const { broker, records } = setup();
    broker.decide(w1, 'publish', 'aos.evt.x');
    broker.decide(w1, 'subscribe', 'aos.task.jobs.>');
    broker.decide(w1, 'tell', 'aos.actor.a.b');
    broker.decide(w1, 'ask', 'aos.actor.a.b');
    broker.decide(w1, 'call', 'crm.lookup');
    broker.decide(w1, 'spawn', 'helper');
    broker.decide(w1, 'stop', 'helper/h1');
    broker.decide(w1, 'stop', 'worker/w1');
    expect(records.map((r) => [r.action, r.allow])).toEqual([
      ['publish', true],
      ['subscribe', true],
      ['tell', true],
      ['ask', true],
      ['call', true],
      ['spawn', true],
      ['stop', true],
      ['stop', true],
    ]);
    expect(records[7]!.rule).toBe('builtin:stop-self');
  });

  test('broker - a malformed target is recorded with ERR_INVALID_SUBJECT as the code', () => {
    const { broker, records } = setup();
    expect(broker.decide(w1, 'publish', 'aos.evt.*')).toMatchObject({ allow: false, reason: 'subject', code: 'ERR_INVALID_SUBJECT' });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ allow: false, reason: 'subject' });
  });
});

describe('broker - rate limit', () => {
  const limited = () => makePolicy({ ...BASE_ROLES, worker: { ...BASE_ROLES.worker, rateLimit: { perSecond: 10, burst: 2 } } }, BASE_ACTORS);

  test('broker - the rate limit bites after burst, per actor instance, and refills with the clock', () => {
    const { broker, records, clock } = setup({ policy: limited() });
    expect(broker.allowance(w1)).toBe(2);
    expect(broker.decide(w1, 'publish', 'aos.evt.a').allow).toBe(true);
    expect(broker.decide(w1, 'tell', 'aos.actor.a.b').allow).toBe(true);
    const third = broker.decide(w1, 'call', 'crm.lookup');
    expect(third).toMatchObject({ allow: false, reason: 'rate-limit', code: 'ERR_DENIED', rule: 'roles.worker.rateLimit' });
    expect(records[2]).toMatchObject({ allow: false, reason: 'rate-limit', rule: 'roles.worker.rateLimit', actor: 'worker/w1' });
    expect(broker.allowance(w1)).toBe(0);
    // another instance of the same type has a bucket of its own
    expect(broker.decide(w2, 'publish', 'aos.evt.a').allow).toBe(true);
    expect(broker.decide(w2, 'publish', 'aos.evt.a').allow).toBe(true);
    expect(broker.decide(w2, 'publish', 'aos.evt.a').allow).toBe(false);
    // a role without a rate limit is not limited
    for (let i = 0; i < 20; i++) expect(broker.decide(o1, 'publish', 'aos.evt.a').allow).toBe(true);
    expect(broker.allowance(o1)).toBe(Number.POSITIVE_INFINITY);
    clock.advance(100);
    expect(broker.allowance(w1)).toBe(1);
    expect(broker.decide(w1, 'publish', 'aos.evt.a').allow).toBe(true);
    expect(broker.decide(w1, 'publish', 'aos.evt.a').allow).toBe(false);
  });

  test('broker - statically denied actions and subscriptions take no token', () => {
    const { broker } = setup({ policy: limited() });
    for (let i = 0; i < 5; i++) expect(broker.decide(w1, 'publish', 'aos.evt.secret.x').allow).toBe(false);
    for (let i = 0; i < 5; i++) expect(broker.decide(w1, 'subscribe', 'aos.task.jobs.x').allow).toBe(true);
    expect(broker.allowance(w1)).toBe(2);
  });

  test('broker - forget drops an actor\'s limits (a restarted instance starts fresh)', () => {
    const { broker } = setup({ policy: limited() });
    broker.decide(w1, 'publish', 'aos.evt.a');
    broker.decide(w1, 'publish', 'aos.evt.a');
    expect(broker.allowance(w1)).toBe(0);
    broker.forget(w1.id);
    expect(broker.allowance(w1)).toBe(2);
  });
});

describe('broker - budgets', () => {
  const withBudgets = (budgets: unknown[], extra: Record<string, unknown> = {}) =>
    makePolicy({ ...BASE_ROLES, worker: { ...BASE_ROLES.worker, budgets, ...extra } }, BASE_ACTORS);

  test('broker - a counting budget allows `limit` actions in its scope, then denies (reason budget)', () => {
    const { broker, records } = setup({ policy: withBudgets([{ name: 'refunds', counts: { action: 'call', target: 'payments.>' }, limit: 2 }]) });
    expect(broker.decide(w1, 'call', 'payments.refund').allow).toBe(true);
    // out of scope: not counted
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(true);
    expect(broker.decide(w1, 'publish', 'aos.evt.x').allow).toBe(true);
    expect(broker.decide(w1, 'call', 'payments.refund').allow).toBe(true);
    const third = broker.decide(w1, 'call', 'payments.refund');
    expect(third).toMatchObject({ allow: false, reason: 'budget', code: 'ERR_DENIED', rule: 'roles.worker.budgets[0]=refunds' });
    expect(records.at(-1)).toMatchObject({ allow: false, reason: 'budget', rule: 'roles.worker.budgets[0]=refunds' });
    expect(broker.spent(w1)).toEqual({ refunds: 2 });
    // another instance has its own count; out-of-scope actions still pass
    expect(broker.decide(w2, 'call', 'payments.refund').allow).toBe(true);
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(true);
  });

  test('broker - a counting budget with a window refills on the clock', () => {
    const { broker, clock } = setup({ policy: withBudgets([{ name: 'calls', counts: { action: 'call' }, limit: 1, windowMs: 60_000 }]) });
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(true);
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(false);
    clock.advance(59_999);
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(false);
    clock.advance(1);
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(true);
  });

  test('broker - a unit budget is spent by reports and then refuses actions in its appliesTo scope', () => {
    const { broker } = setup({ policy: withBudgets([{ name: 'model-tokens', unit: 'tokens', limit: 100, appliesTo: { action: 'call' } }]) });
    broker.report(w1, 'tokens', 60);
    broker.report(w1, 'dollars', 1_000); // another unit: not this budget
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(true);
    expect(broker.spent(w1)).toEqual({ 'model-tokens': 60 });
    broker.report(w1, 'tokens', 50);
    expect(broker.spent(w1)).toEqual({ 'model-tokens': 110 });
    expect(broker.decide(w1, 'call', 'crm.lookup')).toMatchObject({ allow: false, reason: 'budget', rule: 'roles.worker.budgets[0]=model-tokens' });
    // outside appliesTo: still allowed
    expect(broker.decide(w1, 'publish', 'aos.evt.x').allow).toBe(true);
    // reports are per instance
    expect(broker.decide(w2, 'call', 'crm.lookup').allow).toBe(true);
  });

  test('broker - a unit budget without appliesTo refuses every action once spent', () => {
    const { broker } = setup({ policy: withBudgets([{ name: 'cost', unit: 'usd', limit: 1 }]) });
    broker.report(w1, 'usd', 1);
    for (const [action, target] of [
      ['publish', 'aos.evt.x'],
      ['tell', 'aos.actor.a.b'],
      ['ask', 'aos.actor.a.b'],
      ['call', 'crm.lookup'],
      ['spawn', 'helper'],
    ] as const) {
      expect(broker.decide(w1, action, target), action).toMatchObject({ allow: false, reason: 'budget' });
    }
    // subscriptions are static grants: budgets do not take them away
    expect(broker.decide(w1, 'subscribe', 'aos.task.jobs.x').allow).toBe(true);
  });

  test('broker - onExhausted approval raises ERR_APPROVAL_REQUIRED (reason budget)', () => {
    const { broker, suspendedByBudget } = setup({ policy: withBudgets([{ name: 'refunds', counts: { action: 'call' }, limit: 1, onExhausted: 'approval' }]) });
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(true);
    expect(broker.decide(w1, 'call', 'crm.lookup')).toMatchObject({ allow: false, reason: 'budget', code: 'ERR_APPROVAL_REQUIRED', rule: 'roles.worker.budgets[0]=refunds' });
    expect(suspendedByBudget).toEqual([]);
  });

  test('broker - onExhausted suspend denies and asks the kernel to suspend the actor', () => {
    const { broker, suspendedByBudget } = setup({ policy: withBudgets([{ name: 'spend', unit: 'usd', limit: 10, onExhausted: 'suspend' }]) });
    broker.report(w1, 'usd', 10);
    expect(suspendedByBudget).toEqual([]); // a report alone does not suspend; the next action does
    expect(broker.decide(w1, 'publish', 'aos.evt.x')).toMatchObject({ allow: false, reason: 'budget', code: 'ERR_DENIED' });
    expect(suspendedByBudget).toEqual([['worker/w1', 'spend']]);
    expect(broker.decide(w2, 'publish', 'aos.evt.x').allow).toBe(true);
  });

  test('broker - a budget is not spent by an action another budget denies', () => {
    // budgets[0] counts calls; budgets[1] (unit) is already spent: the call is denied, so it must not count
    const { broker } = setup({
      policy: withBudgets([
        { name: 'calls', counts: { action: 'call' }, limit: 5 },
        { name: 'cost', unit: 'usd', limit: 1 },
      ]),
    });
    broker.report(w1, 'usd', 1);
    expect(broker.decide(w1, 'call', 'crm.lookup')).toMatchObject({ allow: false, reason: 'budget', rule: 'roles.worker.budgets[1]=cost' });
    expect(broker.spent(w1)).toEqual({ calls: 0, cost: 1 });
  });

  test('broker - a rate-limited action spends no budget', () => {
    const { broker } = setup({ policy: withBudgets([{ name: 'calls', counts: { action: 'call' }, limit: 5 }], { rateLimit: { perSecond: 1, burst: 1 } }) });
    expect(broker.decide(w1, 'call', 'crm.lookup').allow).toBe(true);
    expect(broker.decide(w1, 'call', 'crm.lookup')).toMatchObject({ allow: false, reason: 'rate-limit' });
    expect(broker.spent(w1)).toEqual({ calls: 1 });
  });
});

describe('broker - suspensions', () => {
  test('broker - an actor suspended by id is denied everything (reason suspended); others are not', () => {
    const { broker, records } = setup();
    broker.setSuspensions([{ target: 'worker/w1', by: 'ops', reason: 'looping', at: 5 }]);
    expect(broker.suspension(w1)).toEqual({ target: 'worker/w1', by: 'ops', reason: 'looping', at: 5 });
    expect(broker.suspension(w2)).toBeUndefined();
    for (const [action, target] of [
      ['publish', 'aos.evt.x'],
      ['tell', 'aos.actor.a.b'],
      ['ask', 'aos.actor.a.b'],
      ['call', 'crm.lookup'],
      ['spawn', 'helper'],
      ['stop', 'worker/w1'],
    ] as const) {
      expect(broker.decide(w1, action, target), action).toMatchObject({ allow: false, reason: 'suspended', code: 'ERR_DENIED', rule: 'suspended:worker/w1' });
    }
    expect(records.every((r) => r.reason === 'suspended' && r.actor === 'worker/w1')).toBe(true);
    // it keeps its subscriptions (its messages wait in its mailbox until it is resumed)
    expect(broker.decide(w1, 'subscribe', 'aos.task.jobs.x')).toMatchObject({ allow: true, rule: 'roles.worker.subscribe.allow[0]=aos.task.jobs.>' });
    expect(broker.decide(w2, 'publish', 'aos.evt.x').allow).toBe(true);
    expect(broker.suspended).toEqual([{ target: 'worker/w1', by: 'ops', reason: 'looping', at: 5 }]);
  });

  test('broker - a role suspension holds every actor of that role, and only those', () => {
    const { broker } = setup();
    broker.setSuspensions([{ target: 'role:worker', by: 'ops', at: 0 }]);
    expect(broker.decide(w1, 'publish', 'aos.evt.x')).toMatchObject({ allow: false, reason: 'suspended', rule: 'suspended:role:worker' });
    expect(broker.decide(w2, 'publish', 'aos.evt.x')).toMatchObject({ allow: false, reason: 'suspended' });
    expect(broker.decide(o1, 'publish', 'aos.evt.x').allow).toBe(true);
    expect(broker.decide({ id: 'ghost/g1', type: 'ghost' }, 'publish', 'aos.evt.x').reason).toBe('no-role');
  });

  test('broker - setSuspensions replaces the list: a lifted suspension allows again', () => {
    const { broker } = setup();
    broker.setSuspensions([{ target: 'worker/w1', by: 'ops', at: 0 }, { target: 'role:other', by: 'ops', at: 0 }]);
    expect(broker.decide(w1, 'publish', 'aos.evt.x').allow).toBe(false);
    broker.setSuspensions([{ target: 'role:other', by: 'ops', at: 0 }]);
    expect(broker.decide(w1, 'publish', 'aos.evt.x').allow).toBe(true);
    expect(broker.decide(o1, 'publish', 'aos.evt.x').allow).toBe(false);
    broker.setSuspensions([]);
    expect(broker.suspended).toEqual([]);
    expect(broker.decide(o1, 'publish', 'aos.evt.x').allow).toBe(true);
  });

  test('broker - a role suspension follows the policy: a reassigned type is held by its new role', () => {
    const { broker } = setup();
    broker.setSuspensions([{ target: 'role:other', by: 'ops', at: 0 }]);
    expect(broker.decide(w1, 'publish', 'aos.evt.x').allow).toBe(true);
    broker.setPolicy(makePolicy(BASE_ROLES, { worker: { role: 'other' }, other: { role: 'other' } }));
    expect(broker.decide(w1, 'publish', 'aos.evt.x')).toMatchObject({ allow: false, reason: 'suspended' });
  });
});

describe('broker - policy swap', () => {
  test('broker - decisions before setPolicy cite v1, after cite v2, with v2\'s rules', () => {
    const v1 = makePolicy(BASE_ROLES, BASE_ACTORS);
    const v2 = makePolicy({ ...BASE_ROLES, worker: { ...BASE_ROLES.worker, publish: { allow: ['aos.task.>'] } } }, BASE_ACTORS);
    expect(v2.version).not.toBe(v1.version);
    const { broker, records } = setup({ policy: v1 });
    expect(broker.decide(w1, 'publish', 'aos.evt.a').allow).toBe(true);
    expect(broker.decide(w1, 'publish', 'aos.task.a').allow).toBe(false);
    broker.setPolicy(v2);
    expect(broker.policy).toBe(v2);
    expect(broker.decide(w1, 'publish', 'aos.evt.a')).toMatchObject({ allow: false, reason: 'not-granted', policy: v2.version });
    expect(broker.decide(w1, 'publish', 'aos.task.a')).toMatchObject({ allow: true, policy: v2.version, rule: 'roles.worker.publish.allow[0]=aos.task.>' });
    expect(records.map((r) => r.policy)).toEqual([v1.version, v1.version, v2.version, v2.version]);
  });

  test('broker - a decision cites the version whose rule decided it (records, role and owner from one policy)', () => {
    const v1 = makePolicy(BASE_ROLES, BASE_ACTORS);
    const v2 = makePolicy(BASE_ROLES, { worker: { role: 'other', owner: 'team-b' }, other: { role: 'other' } });
    const { broker, records } = setup({ policy: v1 });
    broker.decide(w1, 'call', 'crm.lookup');
    broker.setPolicy(v2);
    broker.decide(w1, 'call', 'crm.lookup');
    expect(records[0]).toMatchObject({ allow: true, role: 'worker', owner: 'team-a', policy: v1.version });
    expect(records[1]).toMatchObject({ allow: false, reason: 'not-granted', role: 'other', owner: 'team-b', policy: v2.version, rule: 'roles.other.tools: not granted' });
  });

  test('broker - a new policy with the same role keeps the actor\'s limits; a changed role starts fresh ones', () => {
    const rate = { perSecond: 1, burst: 2 };
    const v1 = makePolicy({ ...BASE_ROLES, worker: { ...BASE_ROLES.worker, rateLimit: rate } }, BASE_ACTORS);
    const sameRole = new Policy(parsePolicy({ name: 'renamed', roles: { ...BASE_ROLES, worker: { ...BASE_ROLES.worker, rateLimit: rate } }, actors: BASE_ACTORS }), NS);
    const newRate = makePolicy({ ...BASE_ROLES, worker: { ...BASE_ROLES.worker, rateLimit: { perSecond: 1, burst: 3 } } }, BASE_ACTORS);
    const { broker } = setup({ policy: v1 });
    broker.decide(w1, 'publish', 'aos.evt.a');
    broker.decide(w1, 'publish', 'aos.evt.a');
    expect(broker.allowance(w1)).toBe(0);
    broker.setPolicy(sameRole);
    expect(broker.allowance(w1)).toBe(0);
    expect(broker.decide(w1, 'publish', 'aos.evt.a')).toMatchObject({ allow: false, reason: 'rate-limit', policy: sameRole.version });
    broker.setPolicy(newRate);
    expect(broker.allowance(w1)).toBe(3);
  });
});

describe('broker - records outside decide', () => {
  test('broker - recordRefused keeps the worker\'s reason when the kernel\'s static checks allow', () => {
    const { broker, records } = setup();
    broker.recordRefused(w1, 'publish', 'aos.evt.a', 'rate-limit', { messageId: 'm1', correlationId: 'c1' });
    broker.recordRefused(w1, 'tell', 'aos.actor.a.b', 'stale-policy');
    expect(records[0]).toEqual({
      type: 'decision',
      at: 1_000,
      node: 'n1',
      actor: 'worker/w1',
      role: 'worker',
      owner: 'team-a',
      action: 'publish',
      target: 'aos.evt.a',
      allow: false,
      rule: 'worker:rate-limit',
      reason: 'rate-limit',
      policy: broker.policy.version,
      messageId: 'm1',
      correlationId: 'c1',
    });
    expect(records[1]).toMatchObject({ allow: false, rule: 'worker:stale-policy', reason: 'denied', action: 'tell' });
  });

  test('broker - recordRefused records the kernel\'s own decision when its static checks deny', () => {
    const { broker, records } = setup();
    broker.recordRefused(w1, 'publish', 'aos.task.x', 'not-granted');
    broker.recordRefused(w1, 'publish', 'aos.evt.*', 'subject');
    expect(records[0]).toMatchObject({ allow: false, reason: 'not-granted', rule: 'roles.worker.publish: not granted', policy: broker.policy.version });
    expect(records[1]).toMatchObject({ allow: false, reason: 'subject' });
  });

  test('broker - recordRefused takes no token and spends no budget', () => {
    const { broker } = setup({
      policy: makePolicy({ ...BASE_ROLES, worker: { ...BASE_ROLES.worker, rateLimit: { perSecond: 1, burst: 1 }, budgets: [{ name: 'n', counts: {}, limit: 3 }] } }, BASE_ACTORS),
    });
    broker.recordRefused(w1, 'publish', 'aos.evt.a', 'rate-limit');
    expect(broker.allowance(w1)).toBe(1);
    expect(broker.spent(w1)).toEqual({ n: 0 });
  });

  test('broker - recordDenial records a spoof or a refused reply with its detail, role and owner null', () => {
    const { broker, records } = setup();
    broker.recordDenial('external', 'receive', 'aos.actor.worker.w1', 'spoof', 'builtin:unsealed', { messageId: 'm9' }, { claimed: 'admin/root' });
    broker.recordDenial('worker/w1', 'reply', 'aos.evt.x', 'reply', 'builtin:reply-subject', {});
    expect(records).toEqual([
      { type: 'decision', at: 1_000, node: 'n1', actor: 'external', role: null, owner: null, action: 'receive', target: 'aos.actor.worker.w1', allow: false, rule: 'builtin:unsealed', reason: 'spoof', policy: broker.policy.version, messageId: 'm9', detail: { claimed: 'admin/root' } },
      { type: 'decision', at: 1_000, node: 'n1', actor: 'worker/w1', role: null, owner: null, action: 'reply', target: 'aos.evt.x', allow: false, rule: 'builtin:reply-subject', reason: 'reply', policy: broker.policy.version },
    ]);
  });
});

describe('deniedError', () => {
  test('deniedError - carries the code of the decision and the structured details', () => {
    const { broker } = setup();
    const d = broker.decide(w1, 'publish', 'aos.evt.secret.x');
    const e = deniedError(w1.id, 'publish', 'aos.evt.secret.x', d);
    expect(e).toBeInstanceOf(AosError);
    expect(e.code).toBe('ERR_DENIED');
    expect(e.details).toEqual({ actorId: 'worker/w1', action: 'publish', target: 'aos.evt.secret.x', reason: 'denied', rule: 'roles.worker.publish.deny[0]=aos.evt.secret.>', policy: broker.policy.version });
    const approval = deniedError('a/b', 'call', 'pay', { allow: false, rule: 'roles.r.approvals[0]', reason: 'approval', code: 'ERR_APPROVAL_REQUIRED' });
    expect(approval.code).toBe('ERR_APPROVAL_REQUIRED');
    expect(approval.details['policy']).toBeUndefined();
    expect(deniedError('a/b', 'publish', 'a.*', { allow: false, rule: 'builtin:subject-syntax', reason: 'subject', code: 'ERR_INVALID_SUBJECT' }).code).toBe('ERR_INVALID_SUBJECT');
  });
});
