// Broker attacks on governance: a policy reload while requests flow through two nodes (no
// request lost, every decision cites exactly one version, each node switches once, within a
// second), broken policies (from a file, a value, or written straight into the store) refused
// with the old policy kept in force, and the kill switch suspending actors in the middle of a turn.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, onTestFinished, test } from 'vitest';
import { z } from 'zod';
import { parsePolicy, type DecisionRecord } from 'autonomy-os';
import { formatTraceparent, governanceBucket, newCorrelationId, newMessageId, policyDigest, POLICY_KEY } from 'autonomy-os/internal';
import { deferred, later, Latch } from '../helpers/deferred.js';
import { collect, hdrs, json, rawClient } from '../helpers/nats.js';
import { errorOf, startSystem, uniqueNamespace } from '../helpers/system.js';
import { TraceLog } from '../helpers/trace.js';
import { AGENT, expectDenialRecord, expectOnlyMarkers, governed, policy, type Outcome, type PolicyInput } from '../fixtures/broker/setup.js';

function versionOf(doc: PolicyInput): string {
  return policyDigest(parsePolicy(doc));
}

describe('broker attacks - policy reload', () => {
  test('hot reload - while clients keep asking two nodes, a revoked grant switches every decision to the new version once, within 1 s', async () => {
    const ns = uniqueNamespace();
    const nc = await rawClient();
    const trace = await TraceLog.start(nc, ns);
    const grants = (tools: string[]) => ({ subscribe: { allow: [`${ns}.task.>`] }, tools: { allow: tools } });
    const p1 = policy({ worker: grants(['work.do']) }, { worker: { role: 'worker' } }, 'before');
    const p2 = policy({ worker: grants([]) }, { worker: { role: 'worker' } }, 'after');
    const [v1, v2] = [versionOf(p1), versionOf(p2)];
    const a = await startSystem({ namespace: ns, policy: p1 });
    const b = await startSystem({ namespace: ns, policy: p1 });
    const nodes = [a, b];
    for (const [i, node] of nodes.entries()) {
      expect(node.governanceStatus.policy.version).toBe(v1);
      node.registerTool('work.do', { input: z.object({}), run: () => 'done' });
      await node.spawn(AGENT, { type: 'worker', key: `k${i}`, tasks: ['work'] });
    }

    // `phase` when the request was sent, `answered` the phase when its answer came
    type Sent = { cid: string; phase: 'before' | 'during' | 'after'; answered?: Sent['phase']; outcome?: string };
    const sent: Sent[] = [];
    let phase: Sent['phase'] = 'before';
    let stop = false;
    const before = new Latch(30);
    const after = new Latch(30);
    const client = async () => {
      while (!stop) {
        const s: Sent = { cid: newCorrelationId(), phase };
        sent.push(s);
        try {
          const m = await nc.request(`${ns}.task.work`, json({ op: 'call', tool: 'work.do', args: {} }), {
            timeout: 5_000,
            headers: hdrs({ traceparent: formatTraceparent(s.cid, newMessageId()) }),
          });
          const o = m.json<Outcome>();
          s.outcome = o.ok ? 'ok' : o.error.code;
        } catch (err) {
          s.outcome = `lost (${(err as { code?: string }).code})`;
        }
        s.answered = phase;
        before.countDown();
        if (s.phase === 'after') after.countDown();
      }
    };
    const clients = [client(), client(), client()];
    await before.wait(10_000, 'requests before the reload');

    phase = 'during';
    const t0 = performance.now();
    const appliedA = trace.policyEvent({ node: a.nodeId, outcome: 'applied', version: v2 }, 1_000);
    const appliedB = trace.policyEvent({ node: b.nodeId, outcome: 'applied', version: v2 }, 1_000);
    const applied = await a.applyPolicy(p2);
    expect(applied.version).toBe(v2);
    await appliedA;
    await appliedB;
    const elapsed = performance.now() - t0;
    phase = 'after';
    expect(elapsed).toBeLessThan(1_000);
    expect(b.governanceStatus.policy).toMatchObject({ version: v2, origin: 'store', revision: applied.revision, name: 'after' });

    await after.wait(10_000, 'requests after the reload');
    stop = true;
    await Promise.all(clients);

    // every request was answered: the tool's result, or ERR_DENIED; none lost
    expect(sent.filter((s) => s.outcome !== 'ok' && s.outcome !== 'ERR_DENIED')).toEqual([]);
    // answered before the reload began: the old grant; sent after every node applied it: the new one
    expect(sent.filter((s) => s.answered === 'before').every((s) => s.outcome === 'ok')).toBe(true);
    expect(sent.filter((s) => s.phase === 'after').every((s) => s.outcome === 'ERR_DENIED')).toBe(true);

    // one decision per request, citing exactly one version, and the version says what happened
    const records = await Promise.all(sent.map((s) => trace.decision({ action: 'call', correlationId: s.cid })));
    const cids = new Set(sent.map((s) => s.cid));
    const calls = trace.decisions({ action: 'call' }).filter((r) => cids.has(r.correlationId ?? ''));
    expect(calls).toHaveLength(sent.length);
    for (const [i, r] of records.entries()) {
      const s = sent[i]!;
      expect([v1, v2]).toContain(r.policy);
      expect(r.allow).toBe(r.policy === v1);
      expect(s.outcome === 'ok').toBe(r.allow);
      if (s.answered === 'before') expect(r.policy).toBe(v1);
      if (s.phase === 'after') expect(r).toMatchObject({ policy: v2, allow: false, reason: 'not-granted' });
    }
    // per node, in the order the node made them: old version, then new, switching once
    for (const node of nodes) {
      const versions = calls.filter((r: DecisionRecord) => r.node === node.nodeId).map((r) => r.policy);
      const firstNew = versions.indexOf(v2);
      expect(firstNew, `node ${node.nodeId} decided under the new policy`).toBeGreaterThanOrEqual(0);
      expect(versions.slice(0, firstNew).every((v) => v === v1)).toBe(true);
      expect(versions.slice(firstNew).every((v) => v === v2)).toBe(true);
    }
  });

  test('hot reload - a revoked subscribe grant drains the task subscription; granting it again restores it', async () => {
    const g = await governed((ns) => policy({ worker: { subscribe: { allow: [`${ns}.task.>`] } } }, { worker: { role: 'worker' } }));
    const { ns } = g;
    await g.agent('worker', 'a', ['jobs']);
    const ask = () => g.nc.request(`${ns}.task.jobs`, json({ op: 'ping' }), { timeout: 5_000 });
    expect((await ask()).json()).toMatchObject({ ok: true, result: { self: 'worker/a' } });

    const revoked = await g.system.applyPolicy(policy({ worker: {} }, { worker: { role: 'worker' } }));
    // the node unsubscribes before it records the change: once the event is here, the server has the UNSUB
    await g.trace.policyEvent({ node: g.system.nodeId, outcome: 'applied', version: revoked.version });
    expectDenialRecord(await g.trace.decision({ actor: 'worker/a', action: 'subscribe', policy: revoked.version }), {
      actor: 'worker/a',
      action: 'subscribe',
      target: `${ns}.task.jobs`,
      reason: 'not-granted',
      policy: revoked.version,
    });
    expect((await errorOf(ask)).code).toBe('503');
    expect(g.system.list()).toMatchObject([{ id: 'worker/a', status: 'running' }]);

    const again = await g.system.applyPolicy(policy({ worker: { subscribe: { allow: [`${g.ns}.task.jobs`] } } }, { worker: { role: 'worker' } }));
    await g.trace.policyEvent({ node: g.system.nodeId, outcome: 'applied', version: again.version });
    expect(await g.trace.decision({ actor: 'worker/a', action: 'subscribe', policy: again.version })).toMatchObject({ allow: true });
    await g.system.whenIdle();
    expect((await ask()).json()).toMatchObject({ ok: true, result: { self: 'worker/a' } });
  });

  test('broken policy - bad JSON and schema errors are refused with ERR_POLICY and their paths; the old policy stays in force', async () => {
    const g = await governed((ns) => policy({ agent: { publish: { allow: [`${ns}.evt.>`] } } }, { agent: { role: 'agent' } }));
    const { ns } = g;
    await g.agent('agent', 'a');
    const revision = g.system.governanceStatus.policy.revision;
    const dir = await mkdtemp(join(tmpdir(), 'aos-broken-policy-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const badJson = join(dir, 'bad.json');
    await writeFile(badJson, '{ "roles": { "agent": ');
    const good = { publish: { allow: [`${ns}.evt.>`] } };
    const cases: [unknown, string][] = [
      [badJson, '(root)'],
      [{ roles: { agent: { ...good, publsh: { allow: [] } } }, actors: { agent: { role: 'agent' } } }, 'roles.agent'],
      [{ roles: { agent: good }, actors: { agent: { role: 'agent' }, ghost: { role: 'nobody' } } }, 'actors.ghost.role'],
      [{ roles: { agent: { publish: { allow: [`${ns}.evt..x`] } } }, actors: { agent: { role: 'agent' } } }, 'roles.agent.publish.allow.0'],
      [{ roles: { agent: { publish: { allow: [`${ns}.>.x`] } } }, actors: { agent: { role: 'agent' } } }, 'roles.agent.publish.allow.0'],
      [{ roles: { agent: good }, actors: { agent: { role: 'agent' } }, extra: true }, '(root)'],
    ];
    const schemaFile = join(dir, 'schema.json');
    await writeFile(schemaFile, JSON.stringify(cases[2]![0]));
    cases.push([schemaFile, 'actors.ghost.role']);
    for (const [input, path] of cases) {
      const err = await errorOf(() => g.system.applyPolicy(input));
      expect(err.code, JSON.stringify(input)).toBe('ERR_POLICY');
      const issues = (err.details as { issues: { path: string; message: string }[] }).issues;
      expect(issues.map((i) => i.path)).toContain(path);
    }
    expect(g.system.governanceStatus.policy).toMatchObject({ version: g.version, revision });

    // traffic is still allowed under the old version
    const events = await collect(g.nc, `${ns}.evt.still`);
    expect(await g.act('agent/a', { op: 'publish', subject: `${ns}.evt.still`, value: 1 })).toEqual({ ok: true });
    await expectOnlyMarkers(g.system, g.nc, [events], [1]);
    expect(await g.trace.decision({ action: 'publish', target: `${ns}.evt.still` })).toMatchObject({ allow: true, policy: g.version });
  });

  test('broken policy - a bad policy written straight into the store is refused by the node (trace: policy refused) and the old one stays', async () => {
    const g = await governed((ns) => policy({ agent: { publish: { allow: [`${ns}.evt.>`] } } }, { agent: { role: 'agent' } }));
    const { ns } = g;
    await g.agent('agent', 'a');
    const kv = await g.nc.jetstream().views.kv(governanceBucket(ns));
    const broken = ['{ not json', JSON.stringify({ roles: { agent: { publish: { allow: ['a..b'] } } }, actors: { agent: { role: 'agent' } } }), JSON.stringify({ roles: {}, actors: { agent: { role: 'missing' } } })];
    for (const text of broken) {
      const rev = await kv.put(POLICY_KEY, text);
      const ev = await g.trace.policyEvent({ outcome: 'refused', revision: rev });
      expect(ev).toMatchObject({ node: g.system.nodeId, inForce: g.version, error: { code: 'ERR_POLICY' } });
      expect(g.system.governanceStatus.policy.version).toBe(g.version);
    }
    const events = await collect(g.nc, `${ns}.evt.still`);
    expect(await g.act('agent/a', { op: 'publish', subject: `${ns}.evt.still`, value: 1 })).toEqual({ ok: true });
    await expectOnlyMarkers(g.system, g.nc, [events], [1]);
    expect(await g.trace.decision({ action: 'publish', target: `${ns}.evt.still` })).toMatchObject({ allow: true, policy: g.version });

    // positive control: the node still follows the store; a valid policy is applied
    const next = policy({ agent: { publish: { allow: [`${ns}.evt.other.>`] } } }, { agent: { role: 'agent' } });
    const applied = await g.system.applyPolicy(next);
    await g.trace.policyEvent({ outcome: 'applied', version: applied.version });
    expect(g.system.governanceStatus.policy.version).toBe(applied.version);
  });
});

describe('broker attacks - kill switch', () => {
  /** A tool that runs until its signal is aborted. */
  function slowTool(register: (name: string, spec: { input: z.ZodType; run: (args: unknown, t: { signal: AbortSignal }) => Promise<unknown> }) => void) {
    const started = deferred<void>();
    const aborted = deferred<unknown>();
    register('slow.wait', {
      input: z.object({}),
      run: (_args, t) =>
        new Promise((_resolve, reject) => {
          started.resolve();
          t.signal.addEventListener('abort', () => {
            aborted.resolve(t.signal.reason);
            reject(t.signal.reason as Error);
          });
        }),
    });
    return { started, aborted };
  }

  test('suspend - an actor suspended mid-turn: its ask gets ERR_DENIED (suspended), its tool call is aborted, later messages wait until resume', async () => {
    const g = await governed((ns) => policy({ worker: { tools: { allow: ['slow.wait'] }, publish: { allow: [`${ns}.evt.>`] } } }, { worker: { role: 'worker' } }));
    const { ns } = g;
    const tool = slowTool((name, spec) => g.system.registerTool(name, spec));
    await g.agent('worker', 'a');
    await g.agent('worker', 'b');
    const dead = await collect(g.nc, `${ns}.dead.worker`);

    const early = await collect(g.nc, `${ns}.evt.early`);
    // the turn publishes (an intent, committed only if the turn returns), then waits in the tool
    const inflight = later(
      g.act('worker/a', {
        op: 'seq',
        steps: [
          { op: 'publish', subject: `${ns}.evt.early`, value: 1 },
          { op: 'call', tool: 'slow.wait', args: {} },
        ],
      }),
    );
    await tool.started.wait(10_000, 'the slow tool to start');
    await g.system.suspend('worker/a', { reason: 'attack test' });
    const err = await errorOf(() => inflight);
    expect(err.code).toBe('ERR_DENIED');
    expect(err.details).toMatchObject({ reason: 'suspended', actorId: 'worker/a' });
    expect(await tool.aborted.wait(5_000, 'the tool signal to abort')).toMatchObject({ code: 'ERR_DENIED' });
    expect((await dead.waitFor(1)).length).toBe(1);
    await expectOnlyMarkers(g.system, g.nc, [early]); // the aborted turn's publish was discarded

    expect(await g.trace.suspensionEvent({ actor: 'worker/a', suspended: true })).toMatchObject({ target: 'worker/a', reason: 'attack test', node: g.system.nodeId });
    expect(g.system.governanceStatus.suspended).toEqual([expect.objectContaining({ target: 'worker/a', reason: 'attack test' })]);
    const turns = g.system.list().find((x) => x.id === 'worker/a')!.turns;

    // later messages wait: not handled, not lost; the other instance of the type is unaffected
    const queued = later(g.act('worker/a', { op: 'count' }));
    const events = await collect(g.nc, `${ns}.evt.b`);
    expect(await g.act('worker/b', { op: 'publish', subject: `${ns}.evt.b`, value: 1 })).toEqual({ ok: true });
    await events.waitFor(1);
    await g.system.whenIdle();
    expect(g.system.list().find((x) => x.id === 'worker/a')).toMatchObject({ mailbox: 1, turns });
    expect(g.trace.suspensionEvents({ actor: 'worker/b' })).toEqual([]);

    expect(await g.system.resume('worker/a')).toBe(true);
    // the aborted turn committed nothing (its state change is discarded): this is the second turn to count
    expect(await queued).toEqual({ ok: true, result: 1 });
    await g.trace.suspensionEvent({ actor: 'worker/a', suspended: false });
    expect(g.system.governanceStatus.suspended).toEqual([]);
    expect(await g.system.resume('worker/a')).toBe(false);
  });

  test('suspend - a suspension made on one node holds the actor on another until resumed there', async () => {
    const ns = uniqueNamespace();
    const nc = await rawClient();
    const trace = await TraceLog.start(nc, ns);
    const doc = policy({ worker: {} }, { worker: { role: 'worker' } });
    const a = await startSystem({ namespace: ns, policy: doc });
    const b = await startSystem({ namespace: ns, policy: doc });
    await b.spawn(AGENT, { type: 'worker', key: 'b' });
    await a.suspend('worker/b', { reason: 'from node a' });
    expect(await trace.suspensionEvent({ node: b.nodeId, actor: 'worker/b', suspended: true }, 1_000)).toMatchObject({ target: 'worker/b', reason: 'from node a' });
    expect(b.governanceStatus.suspended).toEqual([expect.objectContaining({ target: 'worker/b' })]);
    const queued = later(a.ref('worker/b').ask<Outcome>({ op: 'count' }, { timeoutMs: 10_000 }));
    await a.whenIdle();
    await b.whenIdle();
    expect(b.list()).toMatchObject([{ id: 'worker/b', mailbox: 1, turns: 0 }]);
    expect(await b.resume('worker/b')).toBe(true);
    expect(await queued).toEqual({ ok: true, result: 1 });
  });

  test('suspend - a role suspends every actor of that role and none of another; resume lets their messages through', async () => {
    const g = await governed(() =>
      policy({ worker: {}, other: {} }, { worker: { role: 'worker' }, helper: { role: 'worker' }, bystander: { role: 'other' } }),
    );
    await g.agent('worker', 'a');
    await g.agent('helper', 'a');
    await g.agent('bystander', 'a');
    await g.system.suspend('role:worker', { reason: 'incident' });
    for (const actor of ['worker/a', 'helper/a']) {
      expect(await g.trace.suspensionEvent({ actor, suspended: true })).toMatchObject({ target: 'role:worker', reason: 'incident' });
    }
    expect(g.system.governanceStatus.suspended).toEqual([expect.objectContaining({ target: 'role:worker' })]);
    const queued = ['worker/a', 'helper/a'].map((id) => later(g.act(id, { op: 'count' })));
    expect(await g.act('bystander/a', { op: 'count' })).toEqual({ ok: true, result: 1 });
    await g.system.whenIdle();
    const mailboxes = Object.fromEntries(g.system.list().map((x) => [x.id, x.mailbox]));
    expect(mailboxes).toEqual({ 'worker/a': 1, 'helper/a': 1, 'bystander/a': 0 });
    expect(g.trace.suspensionEvents({ actor: 'bystander/a' })).toEqual([]);

    // what a suspended actor would do is denied: the broker cites the suspension
    const d = g.system.broker.decide({ id: 'helper/a', type: 'helper' }, 'publish', `${g.ns}.evt.x`);
    expect(d).toMatchObject({ allow: false, reason: 'suspended', rule: 'suspended:role:worker' });
    expectDenialRecord(await g.trace.decision({ actor: 'helper/a', action: 'publish' }), { actor: 'helper/a', action: 'publish', target: `${g.ns}.evt.x`, reason: 'suspended', policy: g.version });

    expect(await g.system.resume('role:worker')).toBe(true);
    expect(await Promise.all(queued)).toEqual([
      { ok: true, result: 1 },
      { ok: true, result: 1 },
    ]);
    for (const actor of ['worker/a', 'helper/a']) await g.trace.suspensionEvent({ actor, suspended: false });
  });
});
