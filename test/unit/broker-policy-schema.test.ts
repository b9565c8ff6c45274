// The policy file's schema: a valid document comes back with its defaults filled; every kind
// of broken document is refused with ERR_POLICY and each problem listed by its path.

import { describe, expect, test } from 'vitest';
import { AosError, generateApproverKey, parsePolicy, type PolicyDoc } from 'autonomy-os';
import { parsePolicyText } from 'autonomy-os/internal';

interface Issue {
  path: string;
  message: string;
}

/** The ERR_POLICY issues a bad document raises (fails the test if it is accepted). */
function issuesOf(fn: () => unknown): Issue[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AosError);
    expect((err as AosError).code).toBe('ERR_POLICY');
    const issues = (err as AosError).details['issues'] as Issue[];
    expect(Array.isArray(issues)).toBe(true);
    return issues;
  }
  throw new Error('the document was accepted');
}

const paths = (fn: () => unknown): string[] => issuesOf(fn).map((i) => i.path);

/** A one-role document with `role` as the role's body. */
const withRole = (role: Record<string, unknown>): unknown => ({ roles: { r: role }, actors: { t: { role: 'r' } } });

describe('policy schema - valid documents', () => {
  test('policy schema - omitted grants, lists and onExhausted are filled with their defaults', () => {
    const doc = parsePolicy({
      name: 'desk',
      roles: {
        triage: {
          publish: { allow: ['aos.evt.tickets.>'] },
          budgets: [
            { name: 'tokens', unit: 'tokens', limit: 1000 },
            { name: 'refunds', counts: { action: 'call', target: 'payments.refund' }, limit: 10, onExhausted: 'approval' },
          ],
          approvals: [{ action: 'call', target: 'payments.>' }],
        },
        idle: {},
      },
      actors: { triage: { role: 'triage', owner: 'support' }, '*': { role: 'idle' } },
      approvalDefaults: { chain: [{ approvers: ['finance'], timeoutMs: 60_000 }] },
    });
    const empty = { allow: [], deny: [] };
    expect(doc.roles['triage']).toEqual({
      publish: { allow: ['aos.evt.tickets.>'], deny: [] },
      subscribe: empty,
      tell: empty,
      ask: empty,
      tools: empty,
      spawn: empty,
      budgets: [
        { name: 'tokens', unit: 'tokens', limit: 1000, onExhausted: 'deny' },
        { name: 'refunds', counts: { action: 'call', target: 'payments.refund' }, limit: 10, onExhausted: 'approval' },
      ],
      approvals: [{ action: 'call', target: 'payments.>', when: [] }],
      audit: [],
    });
    expect(doc.approvalDefaults).toEqual({ chain: [{ approvers: ['finance'], timeoutMs: 60_000 }], onExhausted: 'deny' });
    expect(doc.roles['idle']).toEqual({ publish: empty, subscribe: empty, tell: empty, ask: empty, tools: empty, spawn: empty, budgets: [], approvals: [], audit: [] });
    expect(doc.actors).toEqual({ triage: { role: 'triage', owner: 'support' }, '*': { role: 'idle' } });
    expect(doc.name).toBe('desk');
  });

  test('policy schema - the issue example parses, from a value and from JSON text', () => {
    const example = {
      name: 'support desk',
      roles: {
        triage: {
          publish: { allow: ['aos.evt.tickets.>'], deny: [] },
          subscribe: { allow: ['aos.task.support.>'] },
          tell: { allow: ['aos.actor.billing.*', 'aos.actor.tech.*'] },
          ask: { allow: ['aos.actor.billing.*'] },
          tools: { allow: ['crm.lookup'], deny: ['crm.delete'] },
          spawn: { allow: ['worker'] },
          rateLimit: { perSecond: 50, burst: 100 },
          budgets: [
            { name: 'model-tokens', unit: 'tokens', limit: 100000, windowMs: 86400000, onExhausted: 'deny' },
            { name: 'refunds', counts: { action: 'call', target: 'payments.refund' }, limit: 10, onExhausted: 'approval' },
          ],
          approvals: [{ action: 'call', target: 'payments.>', when: [{ path: 'amount', gt: 500 }], chain: [{ approvers: ['finance'], timeoutMs: 3_600_000 }, { approvers: ['cfo'], timeoutMs: 86_400_000 }] }],
        },
      },
      actors: { triage: { role: 'triage', owner: 'support-team' }, '*': { role: 'triage' } },
    };
    const fromValue: PolicyDoc = parsePolicy(example);
    expect(parsePolicyText(JSON.stringify(example), 'policy.json')).toEqual(fromValue);
    expect(fromValue.roles['triage']!.rateLimit).toEqual({ perSecond: 50, burst: 100 });
  });

  test('policy schema - wildcards, "$" subjects and spawn "*" are valid grants', () => {
    const doc = parsePolicy(withRole({ subscribe: { allow: ['>', '*.x', '$SYS.>', '_INBOX.>'] }, tools: { allow: ['crm.*', '>'] }, spawn: { allow: ['*'] } }));
    expect(doc.roles['r']!.subscribe.allow).toEqual(['>', '*.x', '$SYS.>', '_INBOX.>']);
  });

  test('policy schema - no roles and no actors is a valid (deny-everything) policy', () => {
    expect(parsePolicy({ roles: {}, actors: {} })).toEqual({ roles: {}, actors: {} });
  });
});

describe('policy schema - approvals and people', () => {
  test('policy schema - approval rules hold calls, publishes and tells only; a condition has exactly one comparison', () => {
    expect(paths(() => parsePolicy(withRole({ approvals: [{ action: 'spawn', chain: [{ approvers: ['x'], timeoutMs: 1 }] }] })))).toEqual(['roles.r.approvals.0.action']);
    expect(paths(() => parsePolicy(withRole({ approvals: [{ action: 'call', when: [{ path: 'amount', gt: 1, lt: 9 }], chain: [{ approvers: ['x'], timeoutMs: 1 }] }] })))).toEqual(['roles.r.approvals.0.when.0']);
    expect(paths(() => parsePolicy(withRole({ approvals: [{ action: 'call', when: [{ path: 'amount' }], chain: [{ approvers: ['x'], timeoutMs: 1 }] }] })))).toEqual(['roles.r.approvals.0.when.0']);
  });

  test('policy schema - a rule with no chain needs approvalDefaults; a chain needs approvers and a positive time', () => {
    expect(paths(() => parsePolicy(withRole({ approvals: [{ action: 'call' }] })))).toEqual(['roles.r.approvals.0.chain']);
    expect(paths(() => parsePolicy(withRole({ approvals: [{ action: 'call', chain: [{ approvers: [], timeoutMs: 0 }] }] })))).toEqual(['roles.r.approvals.0.chain.0.approvers', 'roles.r.approvals.0.chain.0.timeoutMs']);
  });

  test('policy schema - approvalRetention keeps settled items a positive whole number of ms', () => {
    expect(parsePolicy({ roles: {}, actors: {}, approvalRetention: { keepSettledMs: 86_400_000 } }).approvalRetention).toEqual({ keepSettledMs: 86_400_000 });
    expect(parsePolicy({ roles: {}, actors: {} }).approvalRetention).toBeUndefined();
    for (const keepSettledMs of [0, -1, 1.5, '30d']) expect(paths(() => parsePolicy({ roles: {}, actors: {}, approvalRetention: { keepSettledMs } }))).toEqual(['approvalRetention.keepSettledMs']);
    expect(paths(() => parsePolicy({ roles: {}, actors: {}, approvalRetention: { keepSettledMs: 1, keepOpenMs: 1 } }))).toEqual(['approvalRetention']);
  });

  test('policy schema - people have roles and an ed25519 public key (base64 SPKI DER)', () => {
    const { publicKey } = generateApproverKey();
    const doc = parsePolicy({ roles: {}, actors: {}, people: { alice: { roles: ['finance'], publicKey } } });
    expect(doc.people).toEqual({ alice: { roles: ['finance'], publicKey } });
    expect(paths(() => parsePolicy({ roles: {}, actors: {}, people: { bob: { roles: ['x'], publicKey: 'not a key' } } }))).toEqual(['people.bob.publicKey']);
    expect(paths(() => parsePolicy({ roles: {}, actors: {}, people: { bob: { roles: [], publicKey } } }))).toEqual(['people.bob.roles']);
  });
});

describe('policy schema - refused documents', () => {
  test('policy schema - an unknown top-level key is refused at the root', () => {
    expect(paths(() => parsePolicy({ roles: {}, actors: {}, extra: true }))).toEqual(['(root)']);
  });

  test('policy schema - an unknown key in a role, a grant, a budget or an actor is refused at its object', () => {
    expect(paths(() => parsePolicy(withRole({ publsh: { allow: [] } })))).toEqual(['roles.r']);
    expect(paths(() => parsePolicy(withRole({ publish: { allow: [], permit: [] } })))).toEqual(['roles.r.publish']);
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'b', unit: 'u', limit: 1, max: 2 }] })))).toEqual(['roles.r.budgets.0']);
    expect(paths(() => parsePolicy({ roles: { r: {} }, actors: { t: { role: 'r', team: 'x' } } }))).toEqual(['actors.t']);
  });

  test('policy schema - missing roles or actors are refused', () => {
    expect(paths(() => parsePolicy({ actors: {} }))).toEqual(['roles']);
    expect(paths(() => parsePolicy({ roles: {} }))).toEqual(['actors']);
    expect(paths(() => parsePolicy({}))).toEqual(expect.arrayContaining(['roles', 'actors']));
    expect(paths(() => parsePolicy(null))).toEqual(['(root)']);
    expect(paths(() => parsePolicy([]))).toEqual(['(root)']);
  });

  test('policy schema - an actor without a role is refused', () => {
    expect(paths(() => parsePolicy({ roles: { r: {} }, actors: { t: { owner: 'x' } } }))).toEqual(['actors.t.role']);
    // an empty role name is both too short and undefined: two issues, one path
    expect(new Set(paths(() => parsePolicy({ roles: { r: {} }, actors: { t: { role: '' } } })))).toEqual(new Set(['actors.t.role']));
  });

  test('policy schema - a role referenced but not defined is refused, for each actor that names it', () => {
    const doc = { roles: { r: {} }, actors: { a: { role: 'ghost' }, b: { role: 'r' }, '*': { role: 'phantom' } } };
    expect(paths(() => parsePolicy(doc)).sort()).toEqual(['actors.*.role', 'actors.a.role']);
    // 'constructor' is on every object's prototype: it must not count as a defined role
    expect(paths(() => parsePolicy({ roles: {}, actors: { a: { role: 'constructor' } } }))).toEqual(['actors.a.role']);
  });

  test('policy schema - malformed subject patterns are refused at their index', () => {
    expect(paths(() => parsePolicy(withRole({ publish: { allow: ['aos.evt.>', 'a..b'] } })))).toEqual(['roles.r.publish.allow.1']);
    expect(paths(() => parsePolicy(withRole({ subscribe: { deny: ['a.>.b'] } })))).toEqual(['roles.r.subscribe.deny.0']);
    expect(paths(() => parsePolicy(withRole({ tell: { allow: ['a.b*'] } })))).toEqual(['roles.r.tell.allow.0']);
    expect(paths(() => parsePolicy(withRole({ ask: { allow: [''] } })))).toEqual(['roles.r.ask.allow.0']);
    expect(paths(() => parsePolicy(withRole({ publish: { allow: ['a. b'] } })))).toEqual(['roles.r.publish.allow.0']);
    expect(paths(() => parsePolicy(withRole({ publish: { allow: ['.a'] } })))).toEqual(['roles.r.publish.allow.0']);
    expect(paths(() => parsePolicy(withRole({ tools: { allow: ['crm lookup'], deny: ['a.>.b'] } }))).sort()).toEqual(['roles.r.tools.allow.0', 'roles.r.tools.deny.0']);
  });

  test('policy schema - malformed actor types are refused in spawn grants and in actor assignments', () => {
    expect(paths(() => parsePolicy(withRole({ spawn: { allow: ['a.b'] } })))).toEqual(['roles.r.spawn.allow.0']);
    expect(paths(() => parsePolicy(withRole({ spawn: { deny: ['a/b'] } })))).toEqual(['roles.r.spawn.deny.0']);
    expect(paths(() => parsePolicy({ roles: { r: {} }, actors: { 'bad type': { role: 'r' } } }))).toEqual(['actors.bad type']);
  });

  test('policy schema - a budget with both counts and unit, or neither, is refused', () => {
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'b', limit: 1, unit: 'u', counts: { action: 'call' } }] })))).toEqual(['roles.r.budgets.0']);
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'ok', limit: 1, unit: 'u' }, { name: 'b', limit: 1 }] })))).toEqual(['roles.r.budgets.1']);
  });

  test('policy schema - a counting budget with appliesTo is refused', () => {
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'b', limit: 1, counts: {}, appliesTo: { action: 'call' } }] })))).toEqual(['roles.r.budgets.0.appliesTo']);
  });

  test('policy schema - bad budget fields are refused by path', () => {
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'b', limit: 0, unit: 'u' }] })))).toEqual(['roles.r.budgets.0.limit']);
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: '', limit: 1, unit: 'u' }] })))).toEqual(['roles.r.budgets.0.name']);
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'b', limit: 1, unit: 'u', windowMs: 1.5 }] })))).toEqual(['roles.r.budgets.0.windowMs']);
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'b', limit: 1, unit: 'u', onExhausted: 'explode' }] })))).toEqual(['roles.r.budgets.0.onExhausted']);
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'b', limit: 1, counts: { action: 'fly' } }] })))).toEqual(['roles.r.budgets.0.counts.action']);
    expect(paths(() => parsePolicy(withRole({ budgets: [{ name: 'b', limit: 1, counts: { target: 'a..b' } }] })))).toEqual(['roles.r.budgets.0.counts.target']);
  });

  test('policy schema - bad rate limits and approvals are refused by path', () => {
    expect(paths(() => parsePolicy(withRole({ rateLimit: { perSecond: 0, burst: 0.5 } }))).sort()).toEqual(['roles.r.rateLimit.burst', 'roles.r.rateLimit.perSecond']);
    expect(paths(() => parsePolicy(withRole({ rateLimit: { perSecond: 5 } })))).toEqual(['roles.r.rateLimit.burst']);
    expect(paths(() => parsePolicy(withRole({ approvals: [{ target: 'payments.>' }] })))).toEqual(['roles.r.approvals.0.action']);
    expect(paths(() => parsePolicy(withRole({ approvals: [{ action: 'receive' }] })))).toEqual(['roles.r.approvals.0.action']);
  });

  test('policy schema - every problem of a document is listed, not only the first', () => {
    const issues = issuesOf(() =>
      parsePolicy({
        roles: { r: { publish: { allow: ['a..b'] }, budgets: [{ name: 'b', limit: 1 }] } },
        actors: { t: { role: 'r' } },
        extra: 1,
      }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual(['(root)', 'roles.r.budgets.0', 'roles.r.publish.allow.0']);
    for (const i of issues) expect(i.message).toEqual(expect.any(String));
  });

  test('policy schema - bad JSON text is refused with ERR_POLICY, a root issue and the parse error as cause', () => {
    let caught: unknown;
    try {
      parsePolicyText('{"roles": {', 'policy.json');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(AosError);
    const e = caught as AosError;
    expect(e.code).toBe('ERR_POLICY');
    expect(e.details['source']).toBe('policy.json');
    expect((e.details['issues'] as Issue[]).map((i) => i.path)).toEqual(['(root)']);
    expect(e.cause).toBeInstanceOf(SyntaxError);
    expect(paths(() => parsePolicyText(''))).toEqual(['(root)']);
  });

  test('policy schema - valid JSON that is not a valid policy is refused by path, with its source', () => {
    let caught: unknown;
    try {
      parsePolicyText(JSON.stringify({ roles: {}, actors: { t: { role: 'ghost' } } }), 'ops/policy.json');
    } catch (err) {
      caught = err;
    }
    expect((caught as AosError).code).toBe('ERR_POLICY');
    expect((caught as AosError).details['source']).toBe('ops/policy.json');
    expect(((caught as AosError).details['issues'] as Issue[]).map((i) => i.path)).toEqual(['actors.t.role']);
  });
});
