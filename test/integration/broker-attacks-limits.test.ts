// Broker attacks on limits and tools: a flood past the rate limit (other actors unaffected,
// the bucket refilling on an injected clock), budgets running out (counting and unit budgets,
// each way of reacting), approval rules, and tool calls that are not granted, malformed, or break
// their schemas. Each asserts the action did not happen, the error code and the decision record.

import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { ManualClock } from 'autonomy-os';
import { collect } from '../helpers/nats.js';
import { later } from '../helpers/deferred.js';
import { expectCaught, expectDenialRecord, expectOnlyMarkers, governed, policy, type Governed, type Outcome } from '../fixtures/broker/setup.js';

/** A CRM lookup tool that counts its runs. */
function crmTool(g: Governed, name = 'crm.lookup'): { runs: number } {
  const counter = { runs: 0 };
  g.system.registerTool(name, {
    input: z.object({ id: z.string() }),
    output: z.object({ name: z.string() }),
    run: (args) => {
      counter.runs++;
      return { name: `customer ${args.id}` };
    },
  });
  return counter;
}

describe('broker attacks - rate limits', () => {
  test('rate limit - a flood past the burst is denied from the 6th tell; another role on the node is unaffected; the bucket refills with time', async () => {
    const clock = new ManualClock(1_000_000);
    const g = await governed(
      (ns) =>
        policy(
          {
            noisy: { tell: { allow: [`${ns}.actor.sink.*`] }, rateLimit: { perSecond: 1, burst: 5 } },
            calm: { tell: { allow: [`${ns}.actor.sink.*`] }, rateLimit: { perSecond: 100, burst: 50 } },
          },
          { noisy: { role: 'noisy' }, calm: { role: 'calm' } },
        ),
      { clock },
    );
    const { ns } = g;
    await g.agent('noisy', 'a');
    await g.agent('calm', 'a');
    const sinkA = await collect(g.nc, `${ns}.actor.sink.a`);
    const sinkB = await collect(g.nc, `${ns}.actor.sink.b`);

    const flood = await g.act('noisy/a', { op: 'flood', to: 'sink/a', n: 20 });
    expect(flood).toMatchObject({ ok: false, error: { code: 'ERR_DENIED', reason: 'rate-limit' }, result: { sent: 5 } });
    expect(await g.act('calm/a', { op: 'flood', to: 'sink/b', n: 20 })).toEqual({ ok: true, result: { sent: 20 } });
    await expectOnlyMarkers(g.system, g.nc, [sinkA, sinkB], [5, 20]);

    const target = `${ns}.actor.sink.a`;
    const denial = await g.trace.decision({ actor: 'noisy/a', action: 'tell', allow: false });
    expectDenialRecord(denial, { actor: 'noisy/a', action: 'tell', target, reason: 'rate-limit', policy: g.version });
    expect(denial.rule).toMatch(/rate/i);
    await g.trace.waitFor((r) => g.trace.decisions({ actor: 'calm/a', action: 'tell', allow: true }).length === 20 && r.type === 'decision');
    expect(g.trace.decisions({ actor: 'noisy/a', action: 'tell', allow: true })).toHaveLength(5);
    expect(g.trace.decisions({ actor: 'noisy/a', action: 'tell', allow: false })).toHaveLength(1);
    expect(g.trace.decisions({ actor: 'calm/a', allow: false })).toEqual([]);

    // one second later the bucket holds one token; a minute later, the burst again (never more)
    clock.advance(1_000);
    expect(await g.act('noisy/a', { op: 'flood', to: 'sink/a', n: 20 })).toMatchObject({ ok: false, error: { reason: 'rate-limit' }, result: { sent: 1 } });
    clock.advance(60_000);
    expect(await g.act('noisy/a', { op: 'flood', to: 'sink/a', n: 20 })).toMatchObject({ ok: false, error: { reason: 'rate-limit' }, result: { sent: 5 } });
    await expectOnlyMarkers(g.system, g.nc, [sinkA], [5 + 1 + 1 + 5]);
  });

  test('rate limit - asks and tool calls, decided by the kernel, draw on the same bucket', async () => {
    const clock = new ManualClock(1_000_000);
    const g = await governed(
      (ns) => policy({ noisy: { ask: { allow: [`${ns}.actor.>`] }, tools: { allow: ['crm.>'] }, rateLimit: { perSecond: 1, burst: 2 } } }, { noisy: { role: 'noisy' }, echo: { role: 'noisy' } }),
      { clock },
    );
    const crm = crmTool(g);
    await g.agent('noisy', 'a');
    await g.agent('echo', 'b');
    const steps = [
      { op: 'call', tool: 'crm.lookup', args: { id: '1' } },
      { op: 'ask', to: 'echo/b' },
      { op: 'call', tool: 'crm.lookup', args: { id: '2' } },
    ];
    const r = await g.act('noisy/a', { op: 'seq', steps });
    const results = (r as { result: Outcome[] }).result;
    expect(results[0]).toMatchObject({ ok: true });
    expect(results[1]).toMatchObject({ ok: true });
    expectCaught(results[2]!, 'ERR_DENIED', 'rate-limit');
    expect(crm.runs).toBe(1);
  });
});

describe('broker attacks - budgets', () => {
  test('budget - a counting budget of 3 calls denies the 4th (reason budget); another instance has its own', async () => {
    const g = await governed(() =>
      policy({ counted: { tools: { allow: ['crm.lookup'] }, budgets: [{ name: 'lookups', counts: { action: 'call', target: 'crm.lookup' }, limit: 3 }] } }, { counted: { role: 'counted' } }),
    );
    const crm = crmTool(g);
    await g.agent('counted', 'a');
    await g.agent('counted', 'b');
    for (let i = 0; i < 3; i++) expect(await g.act('counted/a', { op: 'call', tool: 'crm.lookup', args: { id: `${i}` } })).toEqual({ ok: true, result: { name: `customer ${i}` } });
    expectCaught(await g.act('counted/a', { op: 'call', tool: 'crm.lookup', args: { id: '3' } }), 'ERR_DENIED', 'budget');
    expect(crm.runs).toBe(3);
    const r = await g.trace.decision({ actor: 'counted/a', action: 'call', allow: false });
    expectDenialRecord(r, { actor: 'counted/a', action: 'call', target: 'crm.lookup', reason: 'budget', policy: g.version });
    expect(r.rule).toBe('roles.counted.budgets[0]=lookups');
    expect(g.system.broker.spent({ id: 'counted/a', type: 'counted' })).toEqual({ lookups: 3 });
    // per actor instance: counted/b has its three
    expect(await g.act('counted/b', { op: 'call', tool: 'crm.lookup', args: { id: 'b' } })).toMatchObject({ ok: true });
    expect(crm.runs).toBe(4);
  });

  test('budget - a unit budget spent through ctx.report and toolCtx.report refuses the next actions', async () => {
    const g = await governed((ns) =>
      policy(
        { metered: { tools: { allow: ['crm.lookup', 'llm.complete'] }, publish: { allow: [`${ns}.evt.>`] }, budgets: [{ name: 'model-tokens', unit: 'tokens', limit: 100 }] } },
        { metered: { role: 'metered' } },
      ),
    );
    const { ns } = g;
    const crm = crmTool(g);
    g.system.registerTool('llm.complete', {
      input: z.object({ prompt: z.string() }),
      run: (args, t) => {
        t.report('tokens', 70);
        return `completion of ${args.prompt}`;
      },
    });
    await g.agent('metered', 'a');
    await g.agent('metered', 'b');
    const after = await collect(g.nc, `${ns}.evt.after`);
    const seq = await g.act('metered/a', {
      op: 'seq',
      steps: [
        { op: 'report', unit: 'tokens', amount: 60 },
        { op: 'call', tool: 'crm.lookup', args: { id: '1' } }, // 60 of 100: allowed
        { op: 'report', unit: 'tokens', amount: 50 },
        { op: 'call', tool: 'crm.lookup', args: { id: '2' } }, // 110 of 100: refused
        { op: 'publish', subject: `${ns}.evt.after`, value: 1 }, // refused when the turn commits
      ],
    });
    const results = (seq as { result: Outcome[] }).result;
    expect(results[1]).toMatchObject({ ok: true });
    expectCaught(results[3]!, 'ERR_DENIED', 'budget');
    // The worker is handed what is left of each budget with the batch: the publish is refused at the call site too.
    expectCaught(results[4]!, 'ERR_DENIED', 'budget');
    expect(crm.runs).toBe(1);
    await expectOnlyMarkers(g.system, g.nc, [after]);
    for (const [action, target] of [
      ['call', 'crm.lookup'],
      ['publish', `${ns}.evt.after`],
    ] as const) {
      const r = await g.trace.decision({ actor: 'metered/a', action, allow: false });
      expectDenialRecord(r, { actor: 'metered/a', action, target, reason: 'budget', policy: g.version });
      expect(r.rule).toBe('roles.metered.budgets[0]=model-tokens');
    }

    // units a tool reports count too: 70 + 70 passes the limit of metered/b
    expect(await g.act('metered/b', { op: 'call', tool: 'llm.complete', args: { prompt: 'x' } })).toMatchObject({ ok: true });
    expect(await g.act('metered/b', { op: 'call', tool: 'llm.complete', args: { prompt: 'y' } })).toMatchObject({ ok: true });
    expectCaught(await g.act('metered/b', { op: 'call', tool: 'llm.complete', args: { prompt: 'z' } }), 'ERR_DENIED', 'budget');
    expect(g.system.broker.spent({ id: 'metered/b', type: 'metered' })).toEqual({ 'model-tokens': 140 });
  });

  test('budget - onExhausted approval answers ERR_APPROVAL_REQUIRED', async () => {
    const g = await governed(() =>
      policy(
        { refunder: { tools: { allow: ['crm.lookup'] }, budgets: [{ name: 'refunds', counts: { action: 'call', target: 'crm.>' }, limit: 1, onExhausted: 'approval' }] } },
        { refunder: { role: 'refunder' } },
      ),
    );
    const crm = crmTool(g);
    await g.agent('refunder', 'a');
    expect(await g.act('refunder/a', { op: 'call', tool: 'crm.lookup', args: { id: '1' } })).toMatchObject({ ok: true });
    expectCaught(await g.act('refunder/a', { op: 'call', tool: 'crm.lookup', args: { id: '2' } }), 'ERR_APPROVAL_REQUIRED', 'budget');
    expect(crm.runs).toBe(1);
    const r = await g.trace.decision({ actor: 'refunder/a', action: 'call', allow: false });
    expectDenialRecord(r, { actor: 'refunder/a', action: 'call', target: 'crm.lookup', reason: 'budget', policy: g.version });
    expect(r.rule).toBe('roles.refunder.budgets[0]=refunds');
  });

  test('budget - onExhausted suspend denies the action and suspends the actor until resumed', async () => {
    const g = await governed(() =>
      policy(
        { spender: { tools: { allow: ['crm.lookup'] }, budgets: [{ name: 'calls', counts: { action: 'call' }, limit: 1, onExhausted: 'suspend' }] } },
        { spender: { role: 'spender' } },
      ),
    );
    const crm = crmTool(g);
    await g.agent('spender', 'a');
    await g.agent('spender', 'b');
    expect(await g.act('spender/a', { op: 'call', tool: 'crm.lookup', args: { id: '1' } })).toMatchObject({ ok: true });
    // The handler catches the denial and replies, unless the suspension aborts its turn first: either is a denial.
    const second = await g.act('spender/a', { op: 'call', tool: 'crm.lookup', args: { id: '2' } }).then(
      (o) => (o.ok ? 'allowed' : `${o.error.code}/${o.error.reason}`),
      (err: { code?: string; details?: { reason?: string } }) => `${err.code}/${err.details?.reason}`,
    );
    expect(['ERR_DENIED/budget', 'ERR_DENIED/suspended']).toContain(second);
    expect(crm.runs).toBe(1);
    const r = await g.trace.decision({ actor: 'spender/a', action: 'call', allow: false });
    expectDenialRecord(r, { actor: 'spender/a', action: 'call', target: 'crm.lookup', reason: 'budget', policy: g.version });

    const event = await g.trace.suspensionEvent({ actor: 'spender/a', suspended: true });
    expect(event).toMatchObject({ target: 'spender/a', node: g.system.nodeId });
    expect(g.system.governanceStatus.suspended).toEqual([expect.objectContaining({ target: 'spender/a', by: `broker/${g.system.nodeId}` })]);
    // it takes no more turns: a message waits in its mailbox; its sibling is not suspended
    const queued = later(g.act('spender/a', { op: 'count' }));
    expect(await g.act('spender/b', { op: 'count' })).toEqual({ ok: true, result: 1 });
    await g.system.whenIdle();
    expect(g.system.list().find((a) => a.id === 'spender/a')).toMatchObject({ mailbox: 1 });
    expect(await g.system.resume('spender/a')).toBe(true);
    expect(await queued).toMatchObject({ ok: true });
    await g.trace.suspensionEvent({ actor: 'spender/a', suspended: false });
  });
});

describe('broker attacks - approvals, spawns and tools', () => {
  test('approval - an action matching an approval rule is held: ERR_APPROVAL_PENDING (reason approval), recorded; the tool never runs', async () => {
    const g = await governed((ns) =>
      policy(
        {
          payer: {
            tools: { allow: ['>'] },
            publish: { allow: [`${ns}.evt.>`] },
            approvals: [
              { action: 'call', target: 'payments.>', chain: [{ approvers: ['finance'], timeoutMs: 60_000 }] },
              { action: 'publish', target: `${ns}.evt.payouts.>`, chain: [{ approvers: ['finance'], timeoutMs: 60_000 }] },
            ],
          },
        },
        { payer: { role: 'payer' } },
      ),
    );
    const { ns } = g;
    const refunds = crmTool(g, 'payments.refund');
    const crm = crmTool(g);
    await g.agent('payer', 'a');
    const payouts = await collect(g.nc, `${ns}.evt.payouts.big`);

    expectCaught(await g.act('payer/a', { op: 'call', tool: 'payments.refund', args: { id: '1' } }), 'ERR_APPROVAL_PENDING', 'approval');
    expectCaught(await g.act('payer/a', { op: 'publish', subject: `${ns}.evt.payouts.big`, value: 1e6 }), 'ERR_APPROVAL_PENDING', 'approval');
    expect(await g.act('payer/a', { op: 'call', tool: 'crm.lookup', args: { id: '1' } })).toMatchObject({ ok: true });
    expect(refunds.runs).toBe(0);
    expect(crm.runs).toBe(1);
    await expectOnlyMarkers(g.system, g.nc, [payouts]);
    const call = await g.trace.decision({ action: 'call', target: 'payments.refund' });
    expectDenialRecord(call, { actor: 'payer/a', action: 'call', target: 'payments.refund', reason: 'approval', policy: g.version });
    expect(call.rule).toBe('roles.payer.approvals[0]');
    const publish = await g.trace.decision({ action: 'publish', target: `${ns}.evt.payouts.big` });
    expectDenialRecord(publish, { actor: 'payer/a', action: 'publish', target: `${ns}.evt.payouts.big`, reason: 'approval', policy: g.version });
    expect(publish.rule).toBe('roles.payer.approvals[1]');
  });

  test('spawn and stop - only granted types; a child whose tasks widen its grants never starts', async () => {
    const g = await governed((ns) =>
      policy(
        { boss: { spawn: { allow: ['worker'] } }, worker: { subscribe: { allow: [`${ns}.task.jobs.*`] } }, other: {} },
        { boss: { role: 'boss' }, worker: { role: 'worker' }, bystander: { role: 'other' }, intruder: { role: 'other' } },
      ),
    );
    const { ns } = g;
    await g.agent('boss', 'a');
    await g.agent('bystander', 'a');
    expectCaught(await g.act('boss/a', { op: 'spawn', type: 'intruder', key: 'x' }), 'ERR_DENIED', 'not-granted');
    expect(await g.act('boss/a', { op: 'spawn', type: 'worker', key: 'w1', tasks: [`${ns}.task.jobs.a`] })).toEqual({ ok: true, result: 'worker/w1' });
    // the spawn grant holds; the child's subscription does not, so the child never starts
    expect(await g.act('boss/a', { op: 'spawn', type: 'worker', key: 'w2', tasks: [`${ns}.task.>`] })).toEqual({ ok: true, result: 'worker/w2' });
    expectCaught(await g.act('boss/a', { op: 'stop', id: 'bystander/a' }), 'ERR_DENIED', 'not-granted');
    await g.system.whenIdle();
    expect(g.system.list().map((a) => a.id).sort()).toEqual(['boss/a', 'bystander/a', 'worker/w1']);

    expectDenialRecord(await g.trace.decision({ action: 'spawn', target: 'intruder' }), { actor: 'boss/a', action: 'spawn', target: 'intruder', reason: 'not-granted', policy: g.version });
    expect(await g.trace.decision({ action: 'spawn', target: 'worker' })).toMatchObject({ actor: 'boss/a', allow: true, rule: 'roles.boss.spawn.allow[0]=worker' });
    expectDenialRecord(await g.trace.decision({ actor: 'worker/w2', action: 'subscribe' }), { actor: 'worker/w2', action: 'subscribe', target: `${ns}.task.>`, reason: 'not-granted', policy: g.version });
    expectDenialRecord(await g.trace.decision({ action: 'stop', target: 'bystander/a' }), { actor: 'boss/a', action: 'stop', target: 'bystander/a', reason: 'not-granted', policy: g.version });

    // stopping an actor of a granted type is allowed
    expect(await g.act('boss/a', { op: 'stop', id: 'worker/w1' })).toEqual({ ok: true });
    await g.system.whenIdle();
    expect(g.system.list().map((a) => a.id).sort()).toEqual(['boss/a', 'bystander/a']);
  });

  test('tools - ungranted and deny-listed tools are denied; bad arguments, bad results and unknown tools fail with their codes', async () => {
    const g = await governed(() =>
      policy(
        {
          agent: { tools: { allow: ['crm.*'], deny: ['crm.delete'] } },
          admin: { tools: { allow: ['>'] } },
        },
        { agent: { role: 'agent', owner: 'crm-team' }, admin: { role: 'admin' } },
      ),
    );
    const lookup = crmTool(g);
    const del = crmTool(g, 'crm.delete');
    const exporter = crmTool(g, 'export.all');
    let brokenRuns = 0;
    g.system.registerTool('crm.broken', {
      input: z.object({}),
      output: z.object({ name: z.string() }),
      run: () => {
        brokenRuns++;
        return { name: 42 } as unknown as { name: string };
      },
    });
    g.system.registerTool('crm.whoami', { input: z.object({}), run: (_args, t) => ({ ...t.actor, correlationId: t.correlationId }) });
    await g.agent('agent', 'a');
    await g.agent('admin', 'a');

    expectCaught(await g.act('agent/a', { op: 'call', tool: 'export.all', args: { id: '1' } }), 'ERR_DENIED', 'not-granted');
    expectCaught(await g.act('agent/a', { op: 'call', tool: 'crm.delete', args: { id: '1' } }), 'ERR_DENIED', 'denied');
    expectCaught(await g.act('agent/a', { op: 'call', tool: 'crm.lookup', args: { id: 42 } }), 'ERR_TOOL_INPUT');
    expectCaught(await g.act('agent/a', { op: 'call', tool: 'crm.broken', args: {} }), 'ERR_TOOL_OUTPUT');
    expectCaught(await g.act('admin/a', { op: 'call', tool: 'crm.nothing', args: {} }), 'ERR_UNKNOWN_TOOL');
    expect([exporter.runs, del.runs, lookup.runs, brokenRuns]).toEqual([0, 0, 0, 1]);

    for (const [tool, reason] of [
      ['export.all', 'not-granted'],
      ['crm.delete', 'denied'],
    ] as const) {
      expectDenialRecord(await g.trace.decision({ action: 'call', target: tool }), { actor: 'agent/a', action: 'call', target: tool, reason, policy: g.version });
    }
    // the broker allowed these; the tool's schemas (or the registry) refused them
    for (const tool of ['crm.lookup', 'crm.broken']) {
      expect(await g.trace.decision({ action: 'call', target: tool })).toMatchObject({ actor: 'agent/a', allow: true, policy: g.version });
    }

    const who = await g.act('agent/a', { op: 'call', tool: 'crm.whoami', args: {} });
    expect(who).toMatchObject({ ok: true, result: { id: 'agent/a', role: 'agent', owner: 'crm-team' } });
    const admin = await g.act('admin/a', { op: 'call', tool: 'crm.whoami', args: {} });
    expect(admin).toMatchObject({ ok: true, result: { id: 'admin/a', role: 'admin', owner: null } });
  });
});
