// Issue 6, end to end with real NATS and JetStream: an action an approval rule holds becomes a
// durable request; the turn ends at once; people (signed, with the right role) approve or deny;
// the kernel performs the bound action exactly once and the outcome comes back to the actor as
// a message. Wrong approver, self-approval, changed arguments, double decision, timeouts and
// escalation chains, each checked for what did not happen as well as for the error.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { onTestFinished, describe, expect, inject, test, vi } from 'vitest';
import { z } from 'zod';
import type { NatsConnection } from 'nats';
import { actionHash, ApprovalClient, ManualClock, startTracer, type ApprovalEvent, type ApprovalItem, type ApprovalOutcome, type TraceRecord } from 'autonomy-os';
import { codeOf, errorOf, fixture, startSystem, uniqueNamespace } from '../helpers/system.js';
import { collect, json, parseJson, rawClient } from '../helpers/nats.js';
import { runAos, startNodeProcess } from '../helpers/processes.js';
import { chainOf, decodeEnvelope, decodeValue, ORPHAN_CHECK_MS, recordsOfLog } from 'autonomy-os/internal';
import { deferred } from '../helpers/deferred.js';
import { alice, approvalPolicy, bob, carol, STEP_MS } from '../fixtures/approvals/policy.js';

interface Setup {
  ns: string;
  refunds: { amount: number; order: string }[];
  client: ApprovalClient;
  nc: NatsConnection;
  ask: (msg: unknown) => Promise<{ pending?: string; done?: unknown; approvalId?: string }>;
  outcomes: () => Promise<ApprovalOutcome[]>;
  nextOutcome: (n: number) => Promise<ApprovalOutcome>;
  spawnManager: () => Promise<(msg: unknown) => Promise<unknown>>;
}

async function setup(options: { clock?: ManualClock; onExhausted?: 'deny' | 'approve'; budget?: number; keepSettledMs?: number } = {}): Promise<Setup> {
  const ns = uniqueNamespace();
  const policy = approvalPolicy(ns, options.onExhausted);
  if (options.keepSettledMs !== undefined) policy.approvalRetention = { keepSettledMs: options.keepSettledMs };
  if (options.budget !== undefined) policy.roles['agent']!.budgets = [{ name: 'refunds', counts: { action: 'call', target: 'payments.refund' }, limit: options.budget, onExhausted: 'approval' }];
  const system = await startSystem({ namespace: ns, policy, ...(options.clock === undefined ? {} : { clock: options.clock }) });
  const refunds: { amount: number; order: string }[] = [];
  system.registerTool('payments.refund', {
    input: z.object({ amount: z.number(), order: z.string() }),
    run: (args) => {
      refunds.push(args);
      return { refunded: args.amount, order: args.order };
    },
  });
  const agent = await system.spawn(fixture('approvals/agent.ts'), { type: 'refunder', key: 'r1' });
  const nc = await rawClient();
  onTestFinished(() => nc.close());
  const outcomes = await collect(nc, `${ns}.evt.outcome`);
  return {
    ns,
    refunds,
    nc,
    client: new ApprovalClient(nc, { namespace: ns }),
    ask: (msg) => agent.ask(msg),
    outcomes: () => agent.ask({ op: 'outcomes' }),
    nextOutcome: async (n) => {
      const env = decodeEnvelope((await outcomes.waitFor(n))[n - 1]!.data);
      return decodeValue(env.payload, env.format) as ApprovalOutcome;
    },
    spawnManager: async () => {
      const m = await system.spawn(fixture('approvals/agent.ts'), { type: 'manager', key: 'm1' });
      return (msg) => m.ask(msg);
    },
  };
}

/** The events of one item, from now on, with a wait for the first of a kind. */
async function watch(s: Setup, id: string): Promise<{ events: ApprovalEvent[]; next: (event: string) => Promise<ApprovalItem> }> {
  const events: ApprovalEvent[] = [];
  const waiters: { event: string; resolve: (i: ApprovalItem) => void }[] = [];
  const sub = s.client.watch(id, (e) => {
    events.push(e);
    for (const w of waiters.filter((x) => x.event === e.event)) w.resolve(e.item);
  });
  onTestFinished(() => sub.unsubscribe());
  await s.nc.flush();
  return {
    events,
    next: (event) => {
      const seen = events.find((e) => e.event === event);
      if (seen !== undefined) return Promise.resolve(seen.item);
      const d = deferred<ApprovalItem>();
      waiters.push({ event, resolve: (i) => d.resolve(i) });
      return d.wait(10_000, `approval event ${event} of ${id}`);
    },
  };
}

describe('approvals - approve and deny', () => {
  test('a refund over the limit is held, approved by finance, performed once, and its result comes back to the actor', async () => {
    const s = await setup();
    // Under the limit: no person involved.
    expect(await s.ask({ op: 'refund', amount: 100, order: 'A-1' })).toEqual({ done: { refunded: 100, order: 'A-1' } });
    const { pending } = await s.ask({ op: 'refund', amount: 750, order: 'A-2' });
    expect(pending).toMatch(/^[0-9a-f]{16}$/);
    expect(s.refunds).toEqual([{ amount: 100, order: 'A-1' }]); // held: not run
    const item = await s.client.show(pending!);
    expect(item).toMatchObject({ kind: 'approval', status: 'pending', requester: 'refunder/r1', role: 'agent', owner: 'payments-team', action: { kind: 'call', target: 'payments.refund', args: { amount: 750, order: 'A-2' } }, rule: 'roles.agent.approvals[0]', step: 0 });
    expect(item.actionHash).toBe(actionHash({ kind: 'call', target: 'payments.refund', args: { amount: 750, order: 'A-2' } }));
    expect((await s.client.list()).map((i) => i.id)).toContain(pending);

    const w = await watch(s, pending!);
    const decided = await s.client.decide(pending!, 'approve', { approver: 'alice', key: alice.key, reason: 'customer is right' });
    expect(decided).toMatchObject({ status: 'approved', decision: { by: 'alice', decision: 'approve', reason: 'customer is right' } });
    const executed = await w.next('executed');
    expect(executed.result).toEqual({ ok: true, value: { refunded: 750, order: 'A-2' } });
    const outcome = await s.nextOutcome(1);
    expect(outcome).toMatchObject({ approvalId: pending, status: 'executed', decidedBy: 'alice', result: { refunded: 750, order: 'A-2' } });
    expect(s.refunds).toEqual([{ amount: 100, order: 'A-1' }, { amount: 750, order: 'A-2' }]);
    expect((await s.outcomes()).map((o) => o.approvalId)).toEqual([pending]);
    // No longer open.
    expect((await s.client.list()).map((i) => i.id)).not.toContain(pending);
    expect((await s.client.list({ status: 'executed' })).map((i) => i.id)).toContain(pending);
  });

  test('denied: the action never runs and the actor gets a denied outcome with the reason', async () => {
    const s = await setup();
    const { pending } = await s.ask({ op: 'refund', amount: 900, order: 'B-1' });
    const item = await s.client.decide(pending!, 'deny', { approver: 'alice', key: alice.key, reason: 'duplicate order' });
    expect(item.status).toBe('denied');
    expect(await s.nextOutcome(1)).toMatchObject({ approvalId: pending, status: 'denied', decidedBy: 'alice', reason: 'duplicate order' });
    expect(s.refunds).toEqual([]);
  });

  test('a held publish is stored under the id the handler got, and published exactly once when approved', async () => {
    const s = await setup();
    const payouts = await collect(s.nc, `${s.ns}.evt.payout.>`);
    const { pending } = await s.ask({ op: 'payout', amount: 42 });
    // The worker chose the id; the request is stored when the turn commits, before the reply.
    const item = await s.client.show(pending!);
    const w = await watch(s, pending!);
    expect(item.action).toEqual({ kind: 'publish', target: `${s.ns}.evt.payout.made`, args: { amount: 42 } });
    expect(payouts.count).toBe(0);
    await s.client.decide(pending!, 'approve', { approver: 'alice', key: alice.key });
    await w.next('executed');
    await payouts.waitFor(1);
    expect(await s.nextOutcome(1)).toMatchObject({ status: 'executed', approvalId: pending });
    await s.nc.flush();
    expect(payouts.count).toBe(1);
  });

  test('ctx.requestApproval: a custom request follows the default chain and its decision comes back', async () => {
    const s = await setup();
    const { approvalId } = await s.ask({ op: 'custom', name: 'deploy-prod', reason: 'release 1.2' });
    const item = await s.client.show(approvalId!);
    expect(item).toMatchObject({ reason: 'release 1.2', rule: 'approvalDefaults', action: { kind: 'custom', target: 'deploy-prod', args: { by: 'refunder/r1' } } });
    await s.client.decide(approvalId!, 'approve', { approver: 'alice', key: alice.key });
    expect(await s.nextOutcome(1)).toMatchObject({ approvalId, status: 'executed', decidedBy: 'alice' });
  });
});

describe('approvals - budgets', () => {
  test('a budget with onExhausted "approval" sends the next action to the default chain; approved, it runs past the budget once', async () => {
    const s = await setup({ budget: 1 });
    expect(await s.ask({ op: 'refund', amount: 10, order: 'H-1' })).toMatchObject({ done: { refunded: 10 } });
    const { pending } = await s.ask({ op: 'refund', amount: 20, order: 'H-2' });
    const item = await s.client.show(pending!);
    expect(item).toMatchObject({ rule: 'roles.agent.budgets[0]=refunds', chain: [{ approvers: ['finance'] }], action: { args: { amount: 20, order: 'H-2' } } });
    const w = await watch(s, pending!);
    await s.client.decide(pending!, 'approve', { approver: 'alice', key: alice.key });
    await w.next('executed');
    expect(s.refunds.map((r) => r.order)).toEqual(['H-1', 'H-2']);
    // The budget is still spent: the next one waits for a person too.
    expect((await s.ask({ op: 'refund', amount: 30, order: 'H-3' })).pending).toMatch(/^[0-9a-f]{16}$/);
  });
});

describe('approvals - refused decisions', () => {
  test('an approver without the role, an unknown person and a wrong key are refused and recorded; the request stays pending', async () => {
    const s = await setup();
    const { pending } = await s.ask({ op: 'refund', amount: 600, order: 'C-1' });
    const id = pending!;
    const notRole = await errorOf(() => s.client.decide(id, 'approve', { approver: 'bob', key: bob.key }));
    expect(notRole).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { reason: 'not-approver' } });
    // The CFO comes later in the chain: not before it escalates.
    expect(await errorOf(() => s.client.decide(id, 'approve', { approver: 'carol', key: carol.key }))).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { reason: 'not-approver' } });
    expect(await errorOf(() => s.client.decide(id, 'approve', { approver: 'mallory', key: bob.key }))).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { reason: 'unknown-approver' } });
    // Bob signing in Alice's name.
    expect(await errorOf(() => s.client.decide(id, 'approve', { approver: 'alice', key: bob.key }))).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { reason: 'signature' } });
    const item = await s.client.show(id);
    expect(item.status).toBe('pending');
    expect(item.history.filter((h) => h.event === 'refused').map((h) => h.by)).toEqual(['bob', 'carol', 'mallory', 'alice']);
    expect(s.refunds).toEqual([]);
  });

  test('changed arguments: a decision for another action does not match; a new amount is a new request', async () => {
    const s = await setup();
    const { pending } = await s.ask({ op: 'refund', amount: 750, order: 'D-1' });
    const other = actionHash({ kind: 'call', target: 'payments.refund', args: { amount: 7500, order: 'D-1' } });
    expect(await errorOf(() => s.client.decide(pending!, 'approve', { approver: 'alice', key: alice.key }, other))).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { reason: 'mismatch' } });
    expect((await s.client.show(pending!)).status).toBe('pending');
    const again = await s.ask({ op: 'refund', amount: 751, order: 'D-1' });
    expect(again.pending).not.toBe(pending);
    // Approving the first runs exactly the first.
    const w = await watch(s, pending!);
    await s.client.decide(pending!, 'approve', { approver: 'alice', key: alice.key });
    await w.next('executed');
    expect(s.refunds).toEqual([{ amount: 750, order: 'D-1' }]);
    expect((await s.client.show(again.pending!)).status).toBe('pending');
  });

  test('a second decision is ignored and recorded; the action ran once', async () => {
    const s = await setup();
    const { pending } = await s.ask({ op: 'refund', amount: 800, order: 'E-1' });
    const w = await watch(s, pending!);
    await s.client.decide(pending!, 'approve', { approver: 'alice', key: alice.key });
    await w.next('executed');
    expect(await errorOf(() => s.client.decide(pending!, 'deny', { approver: 'alice', key: alice.key }))).toMatchObject({ code: 'ERR_APPROVAL_DECIDED' });
    expect(await errorOf(() => s.client.decide(pending!, 'approve', { approver: 'alice', key: alice.key }))).toMatchObject({ code: 'ERR_APPROVAL_DECIDED' });
    const item = await s.client.show(pending!);
    expect(item.status).toBe('executed');
    expect(item.decision).toMatchObject({ by: 'alice', decision: 'approve' });
    expect(item.history.filter((h) => h.event === 'refused')).toHaveLength(2);
    expect(s.refunds).toHaveLength(1);
    expect(await s.outcomes()).toHaveLength(1);
  });

  test('an agent cannot approve its own request; an agent with the finance role can approve another agent\'s', async () => {
    const s = await setup();
    const { pending } = await s.ask({ op: 'refund', amount: 700, order: 'F-1' });
    const item = await s.client.show(pending!);
    const w = await watch(s, pending!);
    await s.ask({ op: 'decide', id: pending, actionHash: item.actionHash });
    const refused = await w.next('refused');
    expect(refused.status).toBe('pending');
    expect(refused.history.at(-1)).toMatchObject({ event: 'refused', by: 'refunder/r1' });
    expect(refused.history.at(-1)!.detail).toContain('self-approval');
    expect(s.refunds).toEqual([]);
    // The manager agent holds the finance role: its decision counts.
    const manager = await s.spawnManager();
    await manager({ op: 'decide', id: pending, actionHash: item.actionHash });
    const executed = await w.next('executed');
    expect(executed.decision).toMatchObject({ by: 'manager/m1', decision: 'approve' });
    expect(s.refunds).toEqual([{ amount: 700, order: 'F-1' }]);
  });

  test('a malformed decision is ERR_BAD_REQUEST; an unknown id ERR_APPROVAL_NOT_FOUND', async () => {
    const s = await setup();
    expect(await codeOf(s.client.show('0123456789abcdef'))).toBe('ERR_APPROVAL_NOT_FOUND');
    const reply = await s.nc.request(`${s.ns}.approval.api.decide`, new TextEncoder().encode('{"id":"nope"}'));
    expect(JSON.parse(new TextDecoder().decode(reply.data))).toMatchObject({ error: { code: 'ERR_BAD_REQUEST' } });
  });
});

describe('approvals - timeouts and escalation chains', () => {
  test('no decision in time: finance, then the CFO; then the chain is exhausted and the request expires', async () => {
    const clock = new ManualClock(Date.now());
    const s = await setup({ clock });
    const { pending } = await s.ask({ op: 'refund', amount: 950, order: 'G-1' });
    const w = await watch(s, pending!);
    clock.advance(STEP_MS);
    const escalated = await w.next('escalated');
    expect(escalated).toMatchObject({ status: 'pending', step: 1 });
    // Now the CFO may decide (and finance still may); deny it here is not done: let it expire.
    clock.advance(STEP_MS);
    const expired = await w.next('expired');
    expect(expired).toMatchObject({ status: 'expired', decision: { by: 'timeout', decision: 'timeout' } });
    expect(await s.nextOutcome(1)).toMatchObject({ approvalId: pending, status: 'expired' });
    expect(s.refunds).toEqual([]);
    expect(await errorOf(() => s.client.decide(pending!, 'approve', { approver: 'carol', key: carol.key }))).toMatchObject({ code: 'ERR_APPROVAL_DECIDED' });
  });

  test('after escalation the next approver decides', async () => {
    const clock = new ManualClock(Date.now());
    const s = await setup({ clock });
    const { pending } = await s.ask({ op: 'refund', amount: 950, order: 'G-2' });
    const w = await watch(s, pending!);
    clock.advance(STEP_MS);
    await w.next('escalated');
    await s.client.decide(pending!, 'approve', { approver: 'carol', key: carol.key });
    expect((await w.next('executed')).decision).toMatchObject({ by: 'carol' });
    expect(s.refunds).toEqual([{ amount: 950, order: 'G-2' }]);
  });

  test('onExhausted approve: the exhausted chain lets the action through, once', async () => {
    const clock = new ManualClock(Date.now());
    const s = await setup({ clock, onExhausted: 'approve' });
    const { pending } = await s.ask({ op: 'refund', amount: 510, order: 'G-3' });
    const w = await watch(s, pending!);
    clock.advance(STEP_MS);
    await w.next('escalated');
    clock.advance(STEP_MS);
    expect((await w.next('executed')).decision).toMatchObject({ by: 'timeout' });
    expect(s.refunds).toEqual([{ amount: 510, order: 'G-3' }]);
  });
});

describe('approvals - retention', () => {
  test("settled requests leave the queue once the policy's approvalRetention has passed; open ones stay however old", async () => {
    const clock = new ManualClock(Date.now());
    const keep = 3 * ORPHAN_CHECK_MS; // less than a chain step: the open request stays pending throughout
    const s = await setup({ clock, keepSettledMs: keep });
    const { pending: denied } = await s.ask({ op: 'refund', amount: 750, order: 'K-1' });
    const { pending: open } = await s.ask({ op: 'refund', amount: 760, order: 'K-2' });
    const w = await watch(s, denied!);
    await s.client.decide(denied!, 'deny', { approver: 'alice', key: alice.key });
    await w.next('decided');
    clock.advance(2 * ORPHAN_CHECK_MS); // two sweeps, the denial younger than `keep`
    expect((await s.client.show(denied!)).status).toBe('denied');
    clock.advance(ORPHAN_CHECK_MS); // the sweep at `keep`
    await vi.waitFor(async () => expect(await codeOf(s.client.show(denied!))).toBe('ERR_APPROVAL_NOT_FOUND'), { timeout: 10_000, interval: 20 });
    const all = (await s.client.list({ status: 'all' })).map((i) => i.id);
    expect(all).not.toContain(denied);
    expect(all).toContain(open);
    expect((await s.client.show(open!)).status).toBe('pending');
  });
});

/** For node processes of the approval fixture (approvals/node.mjs): their policy file, the log their refunds are written to, and a client. */
async function nodeProcesses(ns: string) {
  const dir = mkdtempSync(join(tmpdir(), 'aos-approvals-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  const policyFile = join(dir, 'policy.json');
  const log = join(dir, 'refunds.log');
  writeFileSync(policyFile, JSON.stringify(approvalPolicy(ns)));
  writeFileSync(log, '');
  const refunds = () => readFileSync(log, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { order: string; node: string });
  const nc = await rawClient();
  onTestFinished(() => nc.close());
  return { policyFile, log, refunds, nc, client: new ApprovalClient(nc, { namespace: ns }) };
}

describe('approvals - durability', () => {
  test('two nodes: whichever answers the decision, the requester\'s node performs the action, once', async () => {
    const ns = uniqueNamespace();
    const runs: string[] = [];
    const nodes = [];
    for (const nodeId of ['na', 'nb']) {
      const system = await startSystem({ namespace: ns, nodeId, policy: approvalPolicy(ns) });
      system.registerTool('payments.refund', { input: z.object({ amount: z.number(), order: z.string() }), run: (a) => (runs.push(`${nodeId} ${a.order}`), { refunded: a.amount }) });
      nodes.push(system);
    }
    const agent = await nodes[0]!.spawn(fixture('approvals/agent.ts'), { type: 'refunder', key: 'r1' });
    const nc = await rawClient();
    onTestFinished(() => nc.close());
    const client = new ApprovalClient(nc, { namespace: ns });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await agent.ask<{ pending: string }>({ op: 'refund', amount: 600 + i, order: `M-${i}` })).pending);
    const executed = ids.map(() => deferred<ApprovalItem>());
    const subs = ids.map((id, i) => client.watch(id, (e) => e.event === 'executed' && executed[i]!.resolve(e.item)));
    onTestFinished(() => subs.forEach((s) => s.unsubscribe()));
    await nc.flush();
    // Decisions go to the queue group: over several, both nodes answer some.
    for (const id of ids) await client.decide(id, 'approve', { approver: 'alice', key: alice.key });
    const done = await Promise.all(executed.map((d) => d.wait(10_000, 'executed')));
    expect(done.every((i) => i.history.some((h) => h.event === 'executing' && h.by === 'system/na'))).toBe(true);
    expect(runs.sort()).toEqual(['na M-0', 'na M-1', 'na M-2', 'na M-3']);
  });

  test('the node is killed while a request is pending; started again, the approval runs the action exactly once', async () => {
    const ns = uniqueNamespace();
    const { policyFile, log, refunds, nc, client } = await nodeProcesses(ns);
    const askAgent = async (value: unknown) => {
      const reply = await nc.request(`${ns}.actor.refunder.r1`, json(value), { timeout: 10_000 });
      return parseJson<{ pending?: string }>(reply.data);
    };

    const first = await startNodeProcess('approvals/node.mjs', [inject('natsUrl'), ns, 'first', policyFile, log], 'first node');
    const { pending } = await askAgent({ op: 'refund', amount: 990, order: 'K-1' });
    expect(pending).toMatch(/^[0-9a-f]{16}$/);
    first.child.kill('SIGKILL');
    await first.exited;

    // Nothing ran; the request outlived the node.
    expect(refunds()).toEqual([]);
    expect(await errorOf(() => client.show(pending!))).toMatchObject({ code: 'ERR_UNAVAILABLE' }); // no node answers the API now
    const second = await startNodeProcess('approvals/node.mjs', [inject('natsUrl'), ns, 'second', policyFile, log], 'second node');
    expect((await client.show(pending!)).status).toBe('pending');
    const events: ApprovalEvent[] = [];
    const executed = deferred<ApprovalItem>();
    const sub = client.watch(pending!, (e) => {
      events.push(e);
      if (e.event === 'executed') executed.resolve(e.item);
    });
    onTestFinished(() => sub.unsubscribe());
    await nc.flush();
    await client.decide(pending!, 'approve', { approver: 'alice', key: alice.key });
    const done = await executed.wait(10_000, 'executed event');
    expect(done.result).toEqual({ ok: true, value: { refunded: 990, order: 'K-1' } });
    expect(refunds()).toEqual([{ amount: 990, order: 'K-1', node: 'second' }]);

    // Killed and started once more: the executed request is not performed again.
    second.child.kill('SIGKILL');
    await second.exited;
    await startNodeProcess('approvals/node.mjs', [inject('natsUrl'), ns, 'third', policyFile, log], 'third node');
    expect((await client.show(pending!)).status).toBe('executed');
    expect(await askAgent({ op: 'outcomes' })).toEqual([]); // a fresh actor: the outcome went to the one that was running
    expect(refunds()).toHaveLength(1);
    expect(events.filter((e) => e.event === 'executed')).toHaveLength(1);
  });
});

/** A node process of the approval fixture that has claimed an approved refund which never returns (`HANG-…`), and the request's id. */
async function executingOnANode(ns: string, order: string) {
  const { policyFile, log, refunds, nc, client } = await nodeProcesses(ns);
  const node = await startNodeProcess('approvals/node.mjs', [inject('natsUrl'), ns, 'first', policyFile, log], 'first node');
  const reply = await nc.request(`${ns}.actor.refunder.r1`, json({ op: 'refund', amount: 970, order }), { timeout: 10_000 });
  const id = parseJson<{ pending: string }>(reply.data).pending;
  await client.decide(id, 'approve', { approver: 'alice', key: alice.key });
  await vi.waitFor(() => expect(refunds()).toHaveLength(1), { timeout: 10_000, interval: 20 });
  expect((await client.show(id)).status).toBe('executing');
  const events: ApprovalEvent[] = [];
  const sub = client.watch(id, (e) => events.push(e));
  onTestFinished(() => sub.unsubscribe());
  await nc.flush();
  /** Kills the node, and waits until the server has forgotten it (its ping finds no one). */
  const kill = async () => {
    node.child.kill('SIGKILL');
    await node.exited;
    await vi.waitFor(async () => expect(await errorOf(() => nc.request(`${ns}.ctl.first.ping`, json({}), { timeout: 1_000 }))).toMatchObject({ code: '503' }), { timeout: 10_000, interval: 20 });
  };
  return { id, client, nc, refunds, events, kill };
}

function expectOutcomeUnknown(item: ApprovalItem, by: string): void {
  expect(item.status).toBe('failed');
  expect(item.result).toEqual({ ok: false, error: { code: 'ERR_OUTCOME_UNKNOWN', message: expect.stringContaining('node first claimed it and stopped before it recorded how it ended') } });
  expect(item.history.slice(-2).map((h) => `${h.event} ${h.by}`)).toEqual(['executing system/first', `failed system/${by}`]);
}

describe('approvals - a node dies while performing an approved action', () => {
  test('a node started after it finds the request left executing: failed with ERR_OUTCOME_UNKNOWN, not performed again', async () => {
    const ns = uniqueNamespace();
    const s = await executingOnANode(ns, 'HANG-1');
    await s.kill();
    await startSystem({ namespace: ns, nodeId: 'second', policy: approvalPolicy(ns) });
    await vi.waitFor(() => expect(s.events.map((e) => e.event)).toContain('failed'), { timeout: 10_000, interval: 20 });
    expectOutcomeUnknown(s.events.find((e) => e.event === 'failed')!.item, 'second');
    expectOutcomeUnknown(await s.client.show(s.id), 'second');
    expect(s.refunds()).toEqual([{ amount: 970, order: 'HANG-1', node: 'first' }]);
  });

  test('the same node started again (same node id) does not take it for its own work in progress: failed with ERR_OUTCOME_UNKNOWN', async () => {
    const ns = uniqueNamespace();
    const s = await executingOnANode(ns, 'HANG-3');
    await s.kill();
    await startSystem({ namespace: ns, nodeId: 'first', policy: approvalPolicy(ns) });
    await vi.waitFor(() => expect(s.events.map((e) => e.event)).toContain('failed'), { timeout: 10_000, interval: 20 });
    expectOutcomeUnknown(await s.client.show(s.id), 'first');
    expect(s.refunds()).toHaveLength(1);
  });

  test('a node that was running finds it on its next look (ORPHAN_CHECK_MS); while the performer lives, nothing changes', async () => {
    const ns = uniqueNamespace();
    const clock = new ManualClock(Date.now());
    await startSystem({ namespace: ns, nodeId: 'keeper', policy: approvalPolicy(ns), clock });
    const s = await executingOnANode(ns, 'HANG-2');
    // Its performer answers the keeper's ping: a look changes nothing.
    const pings = await collect(s.nc, `${ns}.ctl.first.ping`);
    clock.advance(ORPHAN_CHECK_MS);
    await pings.waitFor(1);
    // In order: the performer answered the keeper's ping before this one, and the keeper read that answer before its own ping.
    await s.nc.request(`${ns}.ctl.first.ping`, json({}), { timeout: 5_000 });
    await s.nc.request(`${ns}.ctl.keeper.ping`, json({}), { timeout: 5_000 });
    expect((await s.client.show(s.id)).status).toBe('executing');
    pings.sub.unsubscribe(); // (a listener would answer "no responders" for the node once it is gone)
    await s.kill();
    await vi.waitFor(
      () => {
        clock.advance(ORPHAN_CHECK_MS);
        expect(s.events.map((e) => e.event)).toContain('failed');
      },
      { timeout: 10_000, interval: 50 },
    );
    expect(s.events.filter((e) => e.event === 'failed')).toHaveLength(1);
    expectOutcomeUnknown(await s.client.show(s.id), 'keeper');
    expect(s.refunds()).toHaveLength(1);
  });
});

describe('approvals - in the trace', () => {
  test('every request, decision, approver and timing is in the chain of work it belongs to, and `aos trace show` prints it', async () => {
    const ns = uniqueNamespace();
    const dir = mkdtempSync(join(tmpdir(), 'aos-approvals-trace-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'trace.log');
    const system = await startSystem({ namespace: ns, policy: approvalPolicy(ns) });
    await startTracer(system, { file });
    system.registerTool('payments.refund', { input: z.object({ amount: z.number(), order: z.string() }), run: (a) => ({ refunded: a.amount, order: a.order }) });
    const agent = await system.spawn(fixture('approvals/agent.ts'), { type: 'refunder', key: 'r1' });
    const nc = await rawClient();
    onTestFinished(() => nc.close());
    const client = new ApprovalClient(nc, { namespace: ns });
    const { pending } = await agent.ask<{ pending: string }>({ op: 'refund', amount: 777, order: 'T-1' });
    await expect(client.decide(pending, 'approve', { approver: 'bob', key: bob.key })).rejects.toMatchObject({ code: 'ERR_APPROVAL_REFUSED' });
    await client.decide(pending, 'approve', { approver: 'alice', key: alice.key });
    const item = await client.show(pending);

    let chain: TraceRecord[] = [];
    await vi.waitFor(
      async () => {
        expect(system.traceBacklog).toBe(0);
        chain = chainOf(recordsOfLog(await readFile(file, 'utf8')), item.correlationId);
        // The outcome message reached the actor: the last thing the approval caused.
        expect(chain.some((r) => r.type === 'envelope' && r.kind === 'approval' && r.event === 'turn.finished')).toBe(true);
      },
      { timeout: 15_000, interval: 50 },
    );
    const approvals = chain.filter((r) => r.type === 'approval') as (TraceRecord & Record<string, unknown>)[];
    expect(approvals.map((r) => `${String(r['event'])} ${String(r['by'] ?? '')}`.trim())).toEqual(['requested', 'refused bob', 'decided alice', 'executing', 'executed']);
    for (const r of approvals) expect(r).toMatchObject({ id: pending, actor: 'refunder/r1', action: { kind: 'call', target: 'payments.refund' }, messageId: item.causationId, waitedMs: expect.any(Number) });
    // The tool call the kernel made once approved is decided as approved, in the same chain.
    expect(chain.filter((r) => r.type === 'decision' && r.action === 'call' && r.allow).map((r) => (r as { detail?: unknown }).detail)).toEqual([{ approval: pending }]);

    const shown = await runAos(['trace', 'show', item.correlationId, '--file', file]);
    expect(shown.code).toBe(0);
    if (process.env['AOS_SHOW_TRACE'] !== undefined) console.log(shown.stdout);
    expect(shown.stdout).toContain(`APPROVAL requested ${pending}: call payments.refund`);
    expect(shown.stdout).toContain(`APPROVAL decided ${pending}: call payments.refund by alice, approved`);
    expect(shown.stdout).toContain(`APPROVAL executed ${pending}: call payments.refund`);
    expect(shown.stdout).toMatch(/approval system\/\S+ -> refunder\/r1/);
  });
});
