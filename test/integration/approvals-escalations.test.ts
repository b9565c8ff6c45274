// Issue 6, escalations: what supervision cannot resolve (a root that gave up, a task type with
// no live instance) arrives in the same queue as approval requests, and a person acts on it:
// restart, reroute, drop, or answer a held task in the agent's place. Real NATS and JetStream.

import { onTestFinished, describe, expect, test } from 'vitest';
import type { NatsConnection } from 'nats';
import { ApprovalClient, defineSupervisor, type ActorSystem, type ApprovalEvent, type ApprovalItem } from 'autonomy-os';
import { ERROR_HEADER } from 'autonomy-os/internal';
import { codeOf, errorOf, fixture, startSystem, uniqueNamespace } from '../helpers/system.js';
import { collect, json, parseJson, rawClient } from '../helpers/nats.js';
import { deferred } from '../helpers/deferred.js';
import { alice, approvalPolicy, bob } from '../fixtures/approvals/policy.js';

interface Setup {
  ns: string;
  system: ActorSystem;
  nc: NatsConnection;
  client: ApprovalClient;
  /** The first event of a kind on any item (seen or to come). */
  event: (event: string, match?: (i: ApprovalItem) => boolean) => Promise<ApprovalItem>;
}

async function setup(): Promise<Setup> {
  const ns = uniqueNamespace();
  const system = await startSystem({ namespace: ns, policy: approvalPolicy(ns), threads: 1 });
  const nc = await rawClient();
  onTestFinished(() => nc.close());
  const client = new ApprovalClient(nc, { namespace: ns });
  const seen: ApprovalEvent[] = [];
  const waiters: { event: string; match: (i: ApprovalItem) => boolean; resolve: (i: ApprovalItem) => void }[] = [];
  const sub = client.watch('*', (e) => {
    seen.push(e);
    for (const w of waiters) if (w.event === e.event && w.match(e.item)) w.resolve(e.item);
  });
  onTestFinished(() => sub.unsubscribe());
  await nc.flush();
  return {
    ns,
    system,
    nc,
    client,
    event: (event, match = () => true) => {
      const hit = seen.find((e) => e.event === event && match(e.item));
      if (hit !== undefined) return Promise.resolve(hit.item);
      const d = deferred<ApprovalItem>();
      waiters.push({ event, match, resolve: (i) => d.resolve(i) });
      return d.wait(10_000, `approval event ${event}`);
    },
  };
}

/** A task type served by one echo actor, then stopped: its escalation is open. */
async function outage(s: Setup): Promise<ApprovalItem> {
  await s.system.spawn(fixture('echo.ts'), { type: 'jobber', key: 'j1', tasks: ['jobs'] });
  await s.system.stop('jobber/j1');
  return s.event('requested', (i) => i.kind === 'escalation' && i.escalation?.subject === `${s.ns}.task.jobs`);
}

/** Sends a task with a reply subject the client keeps listening on (a results subject), and the ERR_UNAVAILABLE it gets at once. */
async function sendTask(s: Setup, text: string): Promise<{ replies: Awaited<ReturnType<typeof collect>>; first: { error: { code: string; details: { escalation?: string } } } }> {
  const replyTo = `results.${s.ns}.${text}`;
  const replies = await collect(s.nc, replyTo);
  s.nc.publish(`${s.ns}.task.jobs`, json({ text }), { reply: replyTo });
  const [m] = await replies.waitFor(1);
  expect(m!.headers?.get(ERROR_HEADER)).toBe('ERR_UNAVAILABLE');
  return { replies, first: parseJson(m!.data) };
}

describe('escalations - a task type with no live instance', () => {
  test('the escalation is in the queue with the tasks that arrived; a person answers one in the agent\'s place', async () => {
    const s = await setup();
    const item = await outage(s);
    expect(item).toMatchObject({ kind: 'escalation', status: 'open', escalation: { reason: { code: 'ERR_UNAVAILABLE' }, type: 'jobber', subject: `${s.ns}.task.jobs`, tasks: [] } });
    expect((await s.client.list()).map((i) => i.id)).toContain(item.id);
    expect((await s.client.list({ kind: 'approval' })).map((i) => i.id)).not.toContain(item.id);

    const { replies, first } = await sendTask(s, 'where-is-my-order');
    // Never a silent timeout: answered at once, naming the escalation a person will act on.
    expect(first.error).toMatchObject({ code: 'ERR_UNAVAILABLE', details: { escalation: item.id } });
    const held = await s.event('task-held', (i) => i.id === item.id);
    expect(held.escalation!.tasks).toEqual([expect.objectContaining({ subject: `${s.ns}.task.jobs`, replyTo: `results.${s.ns}.where-is-my-order`, payload: '{"text":"where-is-my-order"}', encoding: 'utf8' })]);

    // A person without a role of the default chain may not act; approve/deny is for requests.
    expect(await errorOf(() => s.client.act(item.id, 'reply', { approver: 'bob', key: bob.key, value: 1 }))).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { reason: 'not-approver' } });
    expect(await errorOf(() => s.client.decide(item.id, 'approve', { approver: 'alice', key: alice.key }, '0'.repeat(64)))).toMatchObject({ code: 'ERR_APPROVAL_REFUSED', details: { reason: 'wrong-kind' } });

    const resolved = await s.client.act(item.id, 'reply', { approver: 'alice', key: alice.key, value: { text: 'shipped yesterday', by: 'alice' } });
    expect(resolved).toMatchObject({ status: 'resolved', resolution: { by: 'alice', action: 'reply', value: { text: 'shipped yesterday', by: 'alice' } } });
    const [, answer] = await replies.waitFor(2);
    expect(parseJson(answer!.data)).toEqual({ text: 'shipped yesterday', by: 'alice' });
    expect(await codeOf(s.client.act(item.id, 'drop', { approver: 'alice', key: alice.key }))).toBe('ERR_APPROVAL_DECIDED');
    expect((await s.client.show(item.id)).history.map((h) => h.event)).toEqual(['requested', 'task-held', 'refused', 'refused', 'resolved', 'refused']);
  });

  test('reroute: the held task goes to another subject, whose actor answers the original sender', async () => {
    const s = await setup();
    await s.system.spawn(fixture('echo.ts'), { type: 'backup', key: 'b1', tasks: ['backup'] });
    const item = await outage(s);
    const { replies } = await sendTask(s, 'reroute-me');
    await s.event('task-held', (i) => i.id === item.id);
    await s.client.act(item.id, 'reroute', { approver: 'alice', key: alice.key, to: `${s.ns}.task.backup` });
    const [, answer] = await replies.waitFor(2);
    expect(parseJson(answer!.data)).toMatchObject({ text: 'reroute-me', self: 'backup/b1' });
  });

  test('restart: the node that raised it spawns the type again, once; the subject is served again', async () => {
    const s = await setup();
    const item = await outage(s);
    await s.client.act(item.id, 'restart', { approver: 'alice', key: alice.key });
    const done = await s.event('executed', (i) => i.id === item.id);
    expect(done.history.at(-1)).toMatchObject({ event: 'executed', detail: `jobber/j1 spawned on node ${s.system.nodeId}` });
    const reply = await s.nc.request(`${s.ns}.task.jobs`, json({ text: 'back' }), { timeout: 5_000 });
    expect(parseJson(reply.data)).toMatchObject({ text: 'back', self: 'jobber/j1' });
    expect(s.system.list().filter((a) => a.id === 'jobber/j1')).toHaveLength(1);
  });

  test('drop: the escalation is closed and its tasks stay dead-lettered', async () => {
    const s = await setup();
    const dead = await collect(s.nc, `${s.ns}.dead.jobber`);
    const item = await outage(s);
    await sendTask(s, 'drop-me');
    await s.event('task-held', (i) => i.id === item.id);
    await dead.waitFor(1);
    const r = await s.client.act(item.id, 'drop', { approver: 'alice', key: alice.key, reason: 'customer withdrew' });
    expect(r).toMatchObject({ status: 'resolved', resolution: { action: 'drop', by: 'alice', reason: 'customer withdrew' } });
    expect((await s.client.list()).map((i) => i.id)).not.toContain(item.id);
  });
});

describe('escalations - a root supervisor that gave up', () => {
  test('the give-up is an escalation in the queue; restart starts the tree again', async () => {
    const s = await setup();
    const counter = fixture('sup-counter.ts');
    await s.system.supervise(defineSupervisor({ name: 'top', intensity: { maxRestarts: 1, withinMs: 60_000 }, children: [{ module: counter, type: 'ctr', key: 'a', maxAttempts: 1 }] }));
    expect(await s.system.ref('ctr/a').ask({ op: 'inc' })).toBe(1);
    expect(await codeOf(s.system.ref('ctr/a').ask({ op: 'fail', how: 'throw' }))).toBe('ERR_HANDLER_FAILED');
    expect(await codeOf(s.system.ref('ctr/a').ask({ op: 'fail', how: 'throw' }))).toBe('ERR_HANDLER_FAILED');
    const item = await s.event('requested', (i) => i.kind === 'escalation' && i.escalation?.supervisor === 'top');
    expect(item.escalation).toMatchObject({ reason: { code: 'ERR_INTENSITY' }, supervisor: 'top', offender: 'ctr/a' });
    expect(await codeOf(s.system.ref('ctr/a').ask({ op: 'inc' }, { timeoutMs: 2_000 }))).toBe('ERR_UNKNOWN_ACTOR');

    await s.client.act(item.id, 'restart', { approver: 'alice', key: alice.key });
    const done = await s.event('executed', (i) => i.id === item.id);
    expect(done.history.at(-1)!.detail).toBe(`supervision tree top restarted on node ${s.system.nodeId}`);
    expect(await s.system.ref('ctr/a').ask({ op: 'inc' })).toBe(1); // a fresh child
  });
});

describe('escalations - served again', () => {
  test('an outage that held no task closes itself when an instance serves the subject again; one that held tasks waits for a person', async () => {
    const s = await setup();
    const quiet = await outage(s);
    await s.system.spawn(fixture('echo.ts'), { type: 'jobber', key: 'j2', tasks: ['jobs'] });
    const closed = await s.event('resolved', (i) => i.id === quiet.id);
    expect(closed.status).toBe('resolved');
    expect(closed.history.map((h) => h.event)).toEqual(['requested', 'served', 'resolved']);

    await s.system.stop('jobber/j2');
    const busy = await s.event('requested', (i) => i.kind === 'escalation' && i.id !== quiet.id);
    await sendTask(s, 'held-one');
    await s.event('task-held', (i) => i.id === busy.id);
    await s.system.spawn(fixture('echo.ts'), { type: 'jobber', key: 'j3', tasks: ['jobs'] });
    const served = await s.event('served', (i) => i.id === busy.id);
    expect(served.status).toBe('open');
    expect((await s.client.list()).map((i) => i.id)).toContain(busy.id);
  });
});
