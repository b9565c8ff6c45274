// The compiled policy's static decisions: for each action and each reason (no role, not
// granted, deny lists, reserved subjects, approvals, type grants), the rule that decided,
// the version digest, the "*" assignment and the decision cache.

import { describe, expect, test } from 'vitest';
import { defaultPolicyDoc, parsePolicy, type PolicyDoc } from 'autonomy-os';
import { inScope, Policy, policyDigest } from 'autonomy-os/internal';

const NS = 'aos';

const DOC = {
  name: 'unit',
  roles: {
    worker: {
      publish: { allow: ['aos.evt.>', 'aos.task.jobs.*'], deny: ['aos.evt.secret.>'] },
      subscribe: { allow: ['aos.task.jobs.>', 'aos.evt.*'], deny: ['aos.task.jobs.private'] },
      tell: { allow: ['aos.actor.billing.*'], deny: ['aos.actor.billing.admin'] },
      ask: { allow: ['aos.actor.billing.*', 'aos.actor.tech.>'] },
      tools: { allow: ['crm.*', 'payments.>'], deny: ['crm.delete'] },
      spawn: { allow: ['helper', 'root'], deny: ['root'] },
      approvals: [{ action: 'call', target: 'payments.>' }],
    },
    // '>' everywhere: all of NATS except the reserved areas
    wide: {
      publish: { allow: ['>'] },
      subscribe: { allow: ['>'] },
      tell: { allow: ['>'] },
      ask: { allow: ['>'] },
      tools: { allow: ['>'] },
      spawn: { allow: ['*'] },
    },
    // explicit grants inside each reserved area, after a '>' grant
    ops: {
      publish: { allow: ['>', '$SYS.>', '$KV.gov.>', '_INBOX.>', 'aos.ctl.>', 'aos.trace.n1', 'aos.approval.*'] },
      subscribe: { allow: ['aos.ctl.*.list', 'aos.trace.>', '$JS.API.>'] },
      spawn: { allow: ['*'], deny: ['*'] },
    },
    gated: {
      tell: { allow: ['aos.actor.>'] },
      spawn: { allow: ['*'] },
      publish: { allow: ['aos.evt.>'] },
      approvals: [{ action: 'tell' }, { action: 'publish', target: 'aos.evt.payouts.>', when: [{ path: 'amount', gt: 100 }], chain: [{ approvers: ['cfo'], timeoutMs: 1000 }], onExhausted: 'approve' }],
    },
    nothing: {},
  },
  actors: {
    worker: { role: 'worker', owner: 'team-a' },
    wide: { role: 'wide' },
    ops: { role: 'ops', owner: 'sre' },
    gated: { role: 'gated' },
    idle: { role: 'nothing' },
  },
  approvalDefaults: { chain: [{ approvers: ['finance'], timeoutMs: 60_000 }, { approvers: ['cfo'], timeoutMs: 60_000 }] },
};

const policy = new Policy(parsePolicy(DOC), NS);

type Expect = { allow: true; rule: string } | { allow: false; reason: string; rule: string; code?: string };

function expectDecision(type: string, action: Parameters<Policy['check']>[1], target: string, expected: Expect, self?: string): void {
  const d = policy.check(type, action, target, self);
  const want = expected.allow ? { allow: true, rule: expected.rule } : { allow: false, reason: expected.reason, rule: expected.rule, code: expected.code ?? 'ERR_DENIED' };
  expect(d, `${type} ${action} ${target}`).toEqual(want);
}

describe('policy - grants per action', () => {
  // [type, action, target, expected]
  const table: [string, Parameters<Policy['check']>[1], string, Expect][] = [
    // publish
    ['worker', 'publish', 'aos.evt.orders.new', { allow: true, rule: 'roles.worker.publish.allow[0]=aos.evt.>' }],
    ['worker', 'publish', 'aos.task.jobs.build', { allow: true, rule: 'roles.worker.publish.allow[1]=aos.task.jobs.*' }],
    ['worker', 'publish', 'aos.task.jobs.build.x', { allow: false, reason: 'not-granted', rule: 'roles.worker.publish: not granted' }],
    ['worker', 'publish', 'aos.task.other', { allow: false, reason: 'not-granted', rule: 'roles.worker.publish: not granted' }],
    ['worker', 'publish', 'AOS.evt.x', { allow: false, reason: 'not-granted', rule: 'roles.worker.publish: not granted' }],
    // a deny list wins over an allow that also matches
    ['worker', 'publish', 'aos.evt.secret.keys', { allow: false, reason: 'denied', rule: 'roles.worker.publish.deny[0]=aos.evt.secret.>' }],
    // subscribe: the requested pattern must lie inside a grant
    ['worker', 'subscribe', 'aos.task.jobs.build', { allow: true, rule: 'roles.worker.subscribe.allow[0]=aos.task.jobs.>' }],
    ['worker', 'subscribe', 'aos.task.jobs.>', { allow: false, reason: 'denied', rule: 'roles.worker.subscribe.deny[0]=aos.task.jobs.private' }],
    ['worker', 'subscribe', 'aos.task.jobs.public.>', { allow: true, rule: 'roles.worker.subscribe.allow[0]=aos.task.jobs.>' }],
    ['worker', 'subscribe', 'aos.evt.x', { allow: true, rule: 'roles.worker.subscribe.allow[1]=aos.evt.*' }],
    ['worker', 'subscribe', 'aos.evt.*', { allow: true, rule: 'roles.worker.subscribe.allow[1]=aos.evt.*' }],
    ['worker', 'subscribe', 'aos.evt.>', { allow: false, reason: 'not-granted', rule: 'roles.worker.subscribe: not granted' }],
    ['worker', 'subscribe', 'aos.task.other.*', { allow: false, reason: 'not-granted', rule: 'roles.worker.subscribe: not granted' }],
    // a wider subscription that takes in a denied subject: the deny decides, not the missing grant
    ['worker', 'subscribe', 'aos.task.>', { allow: false, reason: 'denied', rule: 'roles.worker.subscribe.deny[0]=aos.task.jobs.private' }],
    // a subscription that overlaps a deny pattern is denied, even through a wildcard
    ['worker', 'subscribe', 'aos.task.jobs.*', { allow: false, reason: 'denied', rule: 'roles.worker.subscribe.deny[0]=aos.task.jobs.private' }],
    ['worker', 'subscribe', 'aos.task.jobs.private', { allow: false, reason: 'denied', rule: 'roles.worker.subscribe.deny[0]=aos.task.jobs.private' }],
    // tell and ask match the target actor's subject
    ['worker', 'tell', 'aos.actor.billing.b1', { allow: true, rule: 'roles.worker.tell.allow[0]=aos.actor.billing.*' }],
    ['worker', 'tell', 'aos.actor.billing.admin', { allow: false, reason: 'denied', rule: 'roles.worker.tell.deny[0]=aos.actor.billing.admin' }],
    ['worker', 'tell', 'aos.actor.tech.t1', { allow: false, reason: 'not-granted', rule: 'roles.worker.tell: not granted' }],
    ['worker', 'ask', 'aos.actor.tech.t1', { allow: true, rule: 'roles.worker.ask.allow[1]=aos.actor.tech.>' }],
    ['worker', 'ask', 'aos.actor.billing.admin', { allow: true, rule: 'roles.worker.ask.allow[0]=aos.actor.billing.*' }],
    ['worker', 'ask', 'aos.actor.sales.s1', { allow: false, reason: 'not-granted', rule: 'roles.worker.ask: not granted' }],
    // call: tool names, tools.allow / tools.deny
    ['worker', 'call', 'crm.lookup', { allow: true, rule: 'roles.worker.tools.allow[0]=crm.*' }],
    ['worker', 'call', 'crm.delete', { allow: false, reason: 'denied', rule: 'roles.worker.tools.deny[0]=crm.delete' }],
    ['worker', 'call', 'crm.notes.read', { allow: false, reason: 'not-granted', rule: 'roles.worker.tools: not granted' }],
    ['worker', 'call', 'web.fetch', { allow: false, reason: 'not-granted', rule: 'roles.worker.tools: not granted' }],
    // spawn: actor types
    ['worker', 'spawn', 'helper', { allow: true, rule: 'roles.worker.spawn.allow[0]=helper' }],
    ['worker', 'spawn', 'root', { allow: false, reason: 'denied', rule: 'roles.worker.spawn.deny[0]=root' }],
    ['worker', 'spawn', 'stranger', { allow: false, reason: 'not-granted', rule: 'roles.worker.spawn: not granted' }],
    ['wide', 'spawn', 'anything', { allow: true, rule: 'roles.wide.spawn.allow[0]=*' }],
    ['ops', 'spawn', 'anything', { allow: false, reason: 'denied', rule: 'roles.ops.spawn.deny[0]=*' }],
    // stop of another actor: the spawn grants on its type
    ['worker', 'stop', 'helper/h1', { allow: true, rule: 'roles.worker.spawn.allow[0]=helper' }],
    ['worker', 'stop', 'root/r1', { allow: false, reason: 'denied', rule: 'roles.worker.spawn.deny[0]=root' }],
    ['worker', 'stop', 'billing/b1', { allow: false, reason: 'not-granted', rule: 'roles.worker.spawn: not granted' }],
    ['wide', 'stop', 'worker/w1', { allow: true, rule: 'roles.wide.spawn.allow[0]=*' }],
    // a role with no grants at all
    ['idle', 'publish', 'aos.evt.x', { allow: false, reason: 'not-granted', rule: 'roles.nothing.publish: not granted' }],
    ['idle', 'spawn', 'helper', { allow: false, reason: 'not-granted', rule: 'roles.nothing.spawn: not granted' }],
  ];
  test.each(table)('policy - %s %s %s', (type, action, target, expected) => expectDecision(type, action, target, expected));
});

describe('policy - no role', () => {
  test('policy - an actor type the policy does not assign is denied every action (no "*" entry)', () => {
    for (const action of ['publish', 'subscribe', 'tell', 'ask', 'call'] as const) {
      expectDecision('stranger', action, 'aos.evt.x', { allow: false, reason: 'no-role', rule: 'actors.stranger: no role' });
    }
    expectDecision('stranger', 'spawn', 'helper', { allow: false, reason: 'no-role', rule: 'actors: no role' });
    expectDecision('stranger', 'stop', 'helper/1', { allow: false, reason: 'no-role', rule: 'actors: no role' });
    expect(policy.assignment('stranger')).toBeUndefined();
  });

  test('policy - stopping itself is always allowed, even without a role or a spawn grant', () => {
    expectDecision('stranger', 'stop', 'stranger/s1', { allow: true, rule: 'builtin:stop-self' }, 'stranger/s1');
    expectDecision('idle', 'stop', 'idle/i1', { allow: true, rule: 'builtin:stop-self' }, 'idle/i1');
    // another instance of its own type is not itself
    expectDecision('idle', 'stop', 'idle/i2', { allow: false, reason: 'not-granted', rule: 'roles.nothing.spawn: not granted' }, 'idle/i1');
  });
});

describe('policy - malformed targets', () => {
  test('policy - a malformed subject is denied with ERR_INVALID_SUBJECT before any grant is looked at', () => {
    for (const [type, action, target] of [
      ['worker', 'publish', 'aos.evt.*'],
      ['worker', 'publish', 'aos.evt.>'],
      ['worker', 'publish', 'aos..evt'],
      ['worker', 'tell', 'aos.actor.billing.*'],
      ['worker', 'subscribe', 'aos.>.x'],
      ['worker', 'subscribe', ''],
      ['stranger', 'publish', 'a b'],
    ] as const) {
      const d = policy.check(type, action, target);
      expect(d.allow, `${action} ${target}`).toBe(false);
      expect(d.reason).toBe('subject');
      expect(d.code).toBe('ERR_INVALID_SUBJECT');
      expect(d.rule.startsWith('builtin:subject-syntax')).toBe(true);
    }
  });
});

describe('policy - reserved subjects', () => {
  // [type, action, target, expected]
  const table: [string, Parameters<Policy['check']>[1], string, Expect][] = [
    // '>' does not reach any reserved area
    ['wide', 'publish', '$SYS.REQ.SERVER.PING', { allow: false, reason: 'reserved', rule: 'builtin:reserved $*' }],
    ['wide', 'publish', '$KV.gov.policy', { allow: false, reason: 'reserved', rule: 'builtin:reserved $*' }],
    ['wide', 'publish', '$JS.API.INFO', { allow: false, reason: 'reserved', rule: 'builtin:reserved $*' }],
    ['wide', 'publish', '_INBOX.abc.1', { allow: false, reason: 'reserved', rule: 'builtin:reserved _INBOX.>' }],
    ['wide', 'publish', 'aos.ctl.n1.stop', { allow: false, reason: 'reserved', rule: 'builtin:reserved aos.ctl.>' }],
    ['wide', 'publish', 'aos.trace.n1', { allow: false, reason: 'reserved', rule: 'builtin:reserved aos.trace.>' }],
    ['wide', 'publish', 'aos.approval.a1', { allow: false, reason: 'reserved', rule: 'builtin:reserved aos.approval.>' }],
    ['wide', 'tell', 'aos.ctl.n1.stop', { allow: false, reason: 'reserved', rule: 'builtin:reserved aos.ctl.>' }],
    ['wide', 'ask', '_INBOX.x', { allow: false, reason: 'reserved', rule: 'builtin:reserved _INBOX.>' }],
    // a subscription that could receive a reserved subject is out of reach too
    ['wide', 'subscribe', '>', { allow: false, reason: 'reserved', rule: 'builtin:reserved $*' }],
    ['wide', 'subscribe', '*.x', { allow: false, reason: 'reserved', rule: 'builtin:reserved $*' }],
    ['wide', 'subscribe', 'aos.>', { allow: false, reason: 'reserved', rule: 'builtin:reserved aos.ctl.>' }],
    ['wide', 'subscribe', 'aos.*.n1', { allow: false, reason: 'reserved', rule: 'builtin:reserved aos.ctl.>' }],
    ['wide', 'subscribe', '_INBOX.>', { allow: false, reason: 'reserved', rule: 'builtin:reserved _INBOX.>' }],
    // next to a reserved area, and in another namespace, is ordinary
    ['wide', 'publish', 'aos.ctl', { allow: true, rule: 'roles.wide.publish.allow[0]=>' }],
    ['wide', 'publish', 'aos.control.x', { allow: true, rule: 'roles.wide.publish.allow[0]=>' }],
    ['wide', 'publish', 'other.ctl.n1.stop', { allow: true, rule: 'roles.wide.publish.allow[0]=>' }],
    ['wide', 'publish', 'INBOX.x', { allow: true, rule: 'roles.wide.publish.allow[0]=>' }],
    ['wide', 'publish', 'x.$SYS', { allow: true, rule: 'roles.wide.publish.allow[0]=>' }],
    ['wide', 'subscribe', 'aos.task.>', { allow: true, rule: 'roles.wide.subscribe.allow[0]=>' }],
    // tool names are not subjects: reserved areas do not apply to call
    ['wide', 'call', 'aos.ctl.x', { allow: true, rule: 'roles.wide.tools.allow[0]=>' }],
    // an explicit grant inside the area reaches it, and is the rule cited
    ['ops', 'publish', '$SYS.REQ.SERVER.PING', { allow: true, rule: 'roles.ops.publish.allow[1]=$SYS.>' }],
    ['ops', 'publish', '$KV.gov.policy', { allow: true, rule: 'roles.ops.publish.allow[2]=$KV.gov.>' }],
    ['ops', 'publish', '$KV.other.policy', { allow: false, reason: 'reserved', rule: 'builtin:reserved $*' }],
    ['ops', 'publish', '_INBOX.abc.1', { allow: true, rule: 'roles.ops.publish.allow[3]=_INBOX.>' }],
    ['ops', 'publish', 'aos.ctl.n1.stop', { allow: true, rule: 'roles.ops.publish.allow[4]=aos.ctl.>' }],
    ['ops', 'publish', 'aos.trace.n1', { allow: true, rule: 'roles.ops.publish.allow[5]=aos.trace.n1' }],
    ['ops', 'publish', 'aos.trace.n2', { allow: false, reason: 'reserved', rule: 'builtin:reserved aos.trace.>' }],
    ['ops', 'publish', 'aos.approval.a1', { allow: true, rule: 'roles.ops.publish.allow[6]=aos.approval.*' }],
    ['ops', 'publish', 'aos.evt.x', { allow: true, rule: 'roles.ops.publish.allow[0]=>' }],
    ['ops', 'subscribe', 'aos.ctl.n1.list', { allow: true, rule: 'roles.ops.subscribe.allow[0]=aos.ctl.*.list' }],
    ['ops', 'subscribe', 'aos.ctl.*.list', { allow: true, rule: 'roles.ops.subscribe.allow[0]=aos.ctl.*.list' }],
    ['ops', 'subscribe', 'aos.ctl.>', { allow: false, reason: 'not-granted', rule: 'roles.ops.subscribe: not granted' }],
    ['ops', 'subscribe', 'aos.trace.>', { allow: true, rule: 'roles.ops.subscribe.allow[1]=aos.trace.>' }],
    ['ops', 'subscribe', '$JS.API.STREAM.INFO.x', { allow: true, rule: 'roles.ops.subscribe.allow[2]=$JS.API.>' }],
  ];
  test.each(table)('policy - reserved: %s %s %s', (type, action, target, expected) => expectDecision(type, action, target, expected));

  test('policy - the reserved areas follow the namespace', () => {
    const other = new Policy(parsePolicy(DOC), 'tenant');
    expect(other.check('wide', 'publish', 'tenant.ctl.n1.stop')).toMatchObject({ allow: false, reason: 'reserved', rule: 'builtin:reserved tenant.ctl.>' });
    expect(other.check('wide', 'publish', 'aos.ctl.n1.stop')).toMatchObject({ allow: true });
    // explicit grants name the 'aos' areas, which are ordinary subjects in 'tenant'
    expect(other.check('ops', 'publish', 'tenant.trace.n1')).toMatchObject({ allow: false, reason: 'reserved' });
  });

  test('policy - the development default keeps the reserved areas out of reach', () => {
    const dev = new Policy(parsePolicy(defaultPolicyDoc('dev')), 'dev');
    expect(dev.check('any', 'publish', 'dev.task.x')).toMatchObject({ allow: true });
    expect(dev.check('any', 'subscribe', 'dev.evt.>')).toMatchObject({ allow: true });
    expect(dev.check('any', 'tell', 'dev.actor.a.b')).toMatchObject({ allow: true });
    expect(dev.check('any', 'call', 'any.tool')).toMatchObject({ allow: true });
    expect(dev.check('any', 'spawn', 'any')).toMatchObject({ allow: true });
    expect(dev.check('any', 'publish', 'dev.ctl.n1.stop')).toMatchObject({ allow: false, reason: 'not-granted' });
    expect(dev.check('any', 'publish', '$SYS.x')).toMatchObject({ allow: false, reason: 'not-granted' });
  });
});

describe('policy - approvals', () => {
  test('policy - an allowed action an approval rule covers names the rule as a candidate; the route carries the default chain', () => {
    expect(policy.check('worker', 'call', 'payments.refund')).toEqual({ allow: true, rule: 'roles.worker.tools.allow[1]=payments.>', approvals: [0] });
    expect(policy.check('worker', 'call', 'payments.cards.charge')).toMatchObject({ allow: true, approvals: [0] });
    expect(policy.approvalFor('worker', [0], { amount: 1 })).toEqual({
      rule: 'roles.worker.approvals[0]',
      action: 'call',
      target: ['payments', '>'],
      when: [],
      chain: [{ approvers: ['finance'], timeoutMs: 60_000 }, { approvers: ['cfo'], timeoutMs: 60_000 }],
      onExhausted: 'deny',
    });
    // other actions and tools are not in its scope
    expect(policy.check('worker', 'call', 'crm.lookup')).toEqual({ allow: true, rule: 'roles.worker.tools.allow[0]=crm.*' });
  });

  test('policy - an approval rule without a target covers every target of its action', () => {
    expect(policy.check('gated', 'tell', 'aos.actor.x.y')).toMatchObject({ allow: true, approvals: [0] });
    expect(policy.approvalFor('gated', [0], 'anything')?.rule).toBe('roles.gated.approvals[0]');
  });

  test('policy - conditions on the arguments: the rule holds only when every one holds; a missing field holds (fail safe)', () => {
    const candidates = policy.check('gated', 'publish', 'aos.evt.payouts.eu').approvals!;
    expect(candidates).toEqual([1]);
    expect(policy.approvalFor('gated', candidates, { amount: 100 })).toBeUndefined();
    expect(policy.approvalFor('gated', candidates, { amount: 101 })).toMatchObject({ rule: 'roles.gated.approvals[1]', chain: [{ approvers: ['cfo'], timeoutMs: 1000 }], onExhausted: 'approve' });
    expect(policy.approvalFor('gated', candidates, { amount: 'lots' })?.rule).toBe('roles.gated.approvals[1]');
    expect(policy.approvalFor('gated', candidates, {})?.rule).toBe('roles.gated.approvals[1]');
    expect(policy.check('gated', 'publish', 'aos.evt.other')).toEqual({ allow: true, rule: 'roles.gated.publish.allow[0]=aos.evt.>' });
  });

  test('policy - deny lists and missing grants decide before approvals', () => {
    const p = new Policy(parsePolicy({ roles: { r: { tools: { allow: ['a.*'], deny: ['a.x'] }, approvals: [{ action: 'call', chain: [{ approvers: ['x'], timeoutMs: 1 }] }] } }, actors: { t: { role: 'r' } } }), NS);
    expect(p.check('t', 'call', 'a.x')).toMatchObject({ allow: false, reason: 'denied' });
    expect(p.check('t', 'call', 'b.x')).toMatchObject({ allow: false, reason: 'not-granted' });
    expect(p.check('t', 'call', 'a.y')).toMatchObject({ allow: true, approvals: [0] });
  });
});

describe('policy - assignments', () => {
  test('policy - "*" gives its role to every type not listed; a listed type keeps its own', () => {
    const p = new Policy(
      parsePolicy({
        roles: { base: { publish: { allow: ['aos.evt.>'] } }, special: { publish: { allow: ['aos.task.>'] } } },
        actors: { '*': { role: 'base' }, vip: { role: 'special', owner: 'board' } },
      }),
      NS,
    );
    expect(p.assignment('anyone')).toEqual({ role: 'base', owner: null });
    expect(p.assignment('vip')).toEqual({ role: 'special', owner: 'board' });
    expect(p.check('anyone', 'publish', 'aos.evt.x')).toEqual({ allow: true, rule: 'roles.base.publish.allow[0]=aos.evt.>' });
    expect(p.check('vip', 'publish', 'aos.evt.x')).toMatchObject({ allow: false, reason: 'not-granted', rule: 'roles.special.publish: not granted' });
    expect(p.role('special')?.publish.allow).toEqual(['aos.task.>']);
    expect(p.role('missing')).toBeUndefined();
  });

  test('policy - an assignment carries its owner, or null', () => {
    expect(policy.assignment('worker')).toEqual({ role: 'worker', owner: 'team-a' });
    expect(policy.assignment('wide')).toEqual({ role: 'wide', owner: null });
  });
});

describe('policy - version digest', () => {
  const reordered = (): unknown => ({
    actors: Object.fromEntries(Object.entries(DOC.actors).reverse()),
    roles: Object.fromEntries(
      Object.entries(DOC.roles)
        .reverse()
        .map(([name, role]) => [name, Object.fromEntries(Object.entries(role).reverse())]),
    ),
    name: DOC.name,
    approvalDefaults: DOC.approvalDefaults,
  });

  test('policy - the digest is stable across key order and across defaults written out or omitted', () => {
    const a = new Policy(parsePolicy(DOC), NS);
    const b = new Policy(parsePolicy(reordered()), NS);
    expect(b.version).toBe(a.version);
    expect(a.version).toMatch(/^[0-9a-f]{12}$/);
    // the same document parsed again, and the defaults filled in by hand
    const filled = parsePolicy(DOC);
    expect(new Policy(parsePolicy(JSON.parse(JSON.stringify(filled))), NS).version).toBe(a.version);
    expect(policyDigest(filled)).toBe(a.version);
  });

  test('policy - the digest differs for different documents', () => {
    const base = parsePolicy(DOC);
    const versions = new Set<string>([policyDigest(base)]);
    const variants: PolicyDoc[] = [
      { ...base, name: 'other name' },
      { ...base, actors: { ...base.actors, extra: { role: 'nothing' } } },
      { ...base, roles: { ...base.roles, worker: { ...base.roles['worker']!, publish: { allow: ['aos.evt.>'], deny: [] } } } },
      { ...base, roles: { ...base.roles, worker: { ...base.roles['worker']!, rateLimit: { perSecond: 1, burst: 1 } } } },
      // the order of a grant list is the order its rules are cited in: a different policy
      { ...base, roles: { ...base.roles, worker: { ...base.roles['worker']!, publish: { allow: ['aos.task.jobs.*', 'aos.evt.>'], deny: ['aos.evt.secret.>'] } } } },
    ];
    for (const v of variants) versions.add(policyDigest(v));
    expect(versions.size).toBe(variants.length + 1);
  });

  test('policy - the digest does not depend on the namespace or origin (it is the document)', () => {
    const doc = parsePolicy(DOC);
    expect(new Policy(doc, 'a', 'store', 7).version).toBe(new Policy(doc, 'b', 'default').version);
  });
});

describe('policy - decision cache', () => {
  test('policy - a repeated check returns an equal decision', () => {
    const p = new Policy(parsePolicy(DOC), NS);
    const cases = [
      ['worker', 'publish', 'aos.evt.a'],
      ['worker', 'publish', 'aos.evt.secret.a'],
      ['worker', 'subscribe', 'aos.task.jobs.*'],
      ['wide', 'publish', '$SYS.x'],
      ['worker', 'call', 'payments.refund'],
      ['stranger', 'tell', 'aos.actor.a.b'],
      ['worker', 'stop', 'helper/h1'],
    ] as const;
    const first = cases.map(([t, a, s]) => p.check(t, a, s));
    for (let i = 0; i < 3; i++) expect(cases.map(([t, a, s]) => p.check(t, a, s))).toEqual(first);
  });

  test('policy - the cache keys on type, action and target (no decision leaks to another)', () => {
    const p = new Policy(parsePolicy(DOC), NS);
    expect(p.check('worker', 'publish', 'aos.evt.x').allow).toBe(true);
    expect(p.check('wide', 'publish', 'aos.evt.x').rule).toBe('roles.wide.publish.allow[0]=>');
    expect(p.check('worker', 'tell', 'aos.evt.x').allow).toBe(false);
    expect(p.check('idle', 'publish', 'aos.evt.x').allow).toBe(false);
    // stop-self is decided per caller, never from the cache
    expect(p.check('idle', 'stop', 'idle/i1', 'idle/i2').allow).toBe(false);
    expect(p.check('idle', 'stop', 'idle/i1', 'idle/i1').allow).toBe(true);
    expect(p.check('idle', 'stop', 'idle/i1', 'idle/i2').allow).toBe(false);
  });

  test('policy - the cache survives passing its size limit (decisions stay right)', () => {
    const p = new Policy(parsePolicy(DOC), NS);
    for (let i = 0; i < 60_000; i++) p.check('worker', 'publish', `aos.evt.n${i}`);
    expect(p.check('worker', 'publish', 'aos.evt.n1')).toEqual({ allow: true, rule: 'roles.worker.publish.allow[0]=aos.evt.>' });
    expect(p.check('worker', 'publish', 'aos.evt.secret.n1')).toMatchObject({ allow: false, reason: 'denied' });
  });
});

describe('inScope', () => {
  test('inScope - no scope is everything; action and target narrow it; targets overlap', () => {
    expect(inScope(undefined, 'publish', 'a.b')).toBe(true);
    expect(inScope({}, 'call', 'x')).toBe(true);
    expect(inScope({ action: 'call' }, 'call', 'x')).toBe(true);
    expect(inScope({ action: 'call' }, 'publish', 'x')).toBe(false);
    expect(inScope({ action: 'call', target: 'payments.>' }, 'call', 'payments.refund')).toBe(true);
    expect(inScope({ action: 'call', target: 'payments.>' }, 'call', 'crm.lookup')).toBe(false);
    expect(inScope({ target: 'aos.evt.*' }, 'subscribe', 'aos.evt.>')).toBe(true);
    expect(inScope({ target: 'aos.evt.*' }, 'publish', 'aos.evt.a.b')).toBe(false);
  });
});
