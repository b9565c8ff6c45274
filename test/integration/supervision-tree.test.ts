// Supervision trees on a real node: start and stop order, nesting (a child supervisor that gives
// up fails to its parent), a root that gives up (escalation event), directives, poison messages,
// dynamic pools, shutdown of a stuck child, and the tree as data. Restarts are observed as
// inits reported by the counter fixture to a raw probe subscriber, and as state resets.

import type { NatsConnection } from 'nats';
import { describe, expect, test } from 'vitest';
import { defineSupervisor, type ActorChildSpec, type ActorNode, type ActorSystem, type SupervisorHandle, type SupervisorNode } from 'autonomy-os';
import { decodeEnvelope, decodeValue } from 'autonomy-os/internal';
import { later, withDeadline } from '../helpers/deferred.js';
import { collect, json, parseJson, rawClient, replyAsActor, type Collector, type DeadLetterBody } from '../helpers/nats.js';
import { codeOf, errorOf, fixture, startSystem } from '../helpers/system.js';

const COUNTER = fixture('sup-counter-probe.ts');

/** A counter child `ctr/<key>` (reports each init to probe/inits). */
function ctr(key: string, extra: Partial<ActorChildSpec> = {}): ActorChildSpec {
  return { module: COUNTER, type: 'ctr', key, ...extra };
}

interface Node {
  system: ActorSystem;
  ns: string;
  nc: NatsConnection;
  /** Inits reported by the counters, in order (`type/key`). */
  inits: Collector;
}

async function node(threads = 1): Promise<Node> {
  const system = await startSystem({ threads });
  const ns = system.subjects.prefix;
  const nc = await rawClient();
  const inits = await collect(nc, `${ns}.actor.probe.inits`);
  return { system, ns, nc, inits };
}

/** The ids reported by inits from the `from`-th on. */
function initsSeen(n: Node, from = 0): string[] {
  return n.inits.messages.slice(from).map((m) => {
    const env = decodeEnvelope(m.data);
    return (decodeValue(env.payload, env.format) as { init: string }).init;
  });
}

/** Waits for `count` more inits after the `from`-th and returns them. */
async function nextInits(n: Node, from: number, count: number): Promise<string[]> {
  await n.inits.waitFor(from + count);
  return initsSeen(n, from);
}

/**
 * Everything the node and the supervisor had to do is done: a supervisor handles one operation
 * at a time, so a no-op one (stopping a child it does not have) resolves after those queued
 * before it. `whenIdle()` alone does not cover a supervisor's work (see the last test).
 */
async function settled(n: Node, sup: SupervisorHandle): Promise<void> {
  await n.system.whenIdle();
  expect(await sup.stopChild('no/such-child')).toBe(false);
  await n.system.whenIdle();
}

function count(n: Node, id: string): Promise<number> {
  return n.system
    .ref(id)
    .ask<{ count: number }>({ op: 'get' }, { timeoutMs: 5_000 })
    .then((r) => r.count);
}

async function inc(n: Node, id: string, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await n.system.ref(id).ask({ op: 'inc' });
}

function fail(n: Node, id: string, how = 'throw'): Promise<unknown> {
  return codeOf(n.system.ref(id).ask({ op: 'fail', how }, { timeoutMs: 10_000 }));
}

function actorChild(tree: SupervisorNode, id: string): ActorNode {
  const c = tree.children.find((x): x is ActorNode => x.kind === 'actor' && x.id === id);
  if (c === undefined) throw new Error(`no child ${id} in ${JSON.stringify(tree)}`);
  return c;
}

describe('supervision tree', () => {
  test('order - children start in order and stop in reverse, through a nested supervisor', async () => {
    const n = await node();
    const sup = await n.system.supervise(
      defineSupervisor({
        name: 'root',
        children: [ctr('a'), defineSupervisor({ name: 'inner', children: [ctr('d'), ctr('e')] }), ctr('c')],
      }),
    );
    expect(await nextInits(n, 0, 4)).toEqual(['ctr/a', 'ctr/d', 'ctr/e', 'ctr/c']);

    // A child cannot see its own stop, but the turn it has in flight can: stopping aborts it and
    // its asker is answered then, so the order of the answers is the order of the stops. One hold
    // at a time, so that each turn runs in a batch of its own (see the batch-mates test below).
    const holds = await collect(n.nc, `${n.ns}.actor.probe.hold`);
    const stopped: string[] = [];
    const answers: Promise<unknown>[] = [];
    for (const k of ['a', 'd', 'e', 'c']) {
      const held = codeOf(n.system.ref(`ctr/${k}`).ask({ op: 'hold', on: 'probe/hold' }, { timeoutMs: 10_000 }));
      answers.push(later(held.then((code) => (stopped.push(k), code))));
      await holds.waitFor(answers.length); // its turn is running
    }
    await withDeadline(sup.stop(), 4_000, 'the supervisor to stop (each child in well under its shutdownMs of 5 s)');
    expect(await Promise.all(answers)).toEqual(Array(4).fill('ERR_ACTOR_STOPPED'));
    expect(stopped).toEqual(['c', 'e', 'd', 'a']);
    const tree = sup.describe() as SupervisorNode;
    expect(tree.status).toBe('stopped');
    expect(tree.children.map((c) => c.status)).toEqual(['stopped', 'stopped', 'stopped']);
    expect(n.system.list()).toEqual([]);
  });

  test('nesting - a child supervisor that exceeds its intensity fails to its parent, which restarts it per its strategy', async () => {
    const n = await node();
    const bystander = await n.system.spawn(COUNTER, { type: 'by', key: 'x' });
    const sup = await n.system.supervise(
      defineSupervisor({
        name: 'root',
        strategy: 'rest_for_one',
        intensity: { maxRestarts: 5, withinMs: 60_000 },
        children: [
          ctr('first'),
          defineSupervisor({ name: 'inner', intensity: { maxRestarts: 1, withinMs: 60_000 }, children: [ctr('a', { maxAttempts: 1 }), ctr('b')] }),
          ctr('last'),
        ],
      }),
    );
    expect(await nextInits(n, 0, 5)).toEqual(['by/x', 'ctr/first', 'ctr/a', 'ctr/b', 'ctr/last']);
    await inc(n, 'ctr/first', 1);
    await inc(n, 'ctr/a', 1);
    await inc(n, 'ctr/b', 2);
    await inc(n, 'ctr/last', 3);
    await inc(n, 'by/x', 4);

    // first failure: inner restarts a (one restart: within its intensity)
    expect(await fail(n, 'ctr/a')).toBe('ERR_HANDLER_FAILED');
    expect(await nextInits(n, 5, 1)).toEqual(['ctr/a']);
    await inc(n, 'ctr/a', 1);
    // second: inner gives up (stops b, a) and fails to root; root (rest_for_one) restarts inner and last
    expect(await fail(n, 'ctr/a')).toBe('ERR_HANDLER_FAILED');
    expect(await nextInits(n, 6, 3)).toEqual(['ctr/a', 'ctr/b', 'ctr/last']);
    await settled(n, sup);
    expect(initsSeen(n, 9)).toEqual([]);
    expect(await count(n, 'ctr/first')).toBe(1); // before the failed child: kept
    expect(await count(n, 'ctr/a')).toBe(0);
    expect(await count(n, 'ctr/b')).toBe(0);
    expect(await count(n, 'ctr/last')).toBe(0);
    expect(await count(n, 'by/x')).toBe(4);

    // the tree as data
    const tree = n.system.tree();
    expect(tree.node).toBe(n.system.nodeId);
    expect(tree.actors.map((a) => a.id)).toEqual([bystander.id]); // unsupervised actors only
    expect(tree.supervisors).toHaveLength(1);
    expect(tree.supervisors[0]).toEqual({
      kind: 'supervisor',
      name: 'root',
      strategy: 'rest_for_one',
      status: 'running',
      restarts: 1,
      intensity: { maxRestarts: 5, withinMs: 60_000 },
      children: [
        { kind: 'actor', id: 'ctr/first', status: 'running', restart: 'permanent', restarts: 0 },
        {
          kind: 'supervisor',
          name: 'inner',
          strategy: 'one_for_one',
          status: 'running',
          restarts: 0, // in its own window: it is a fresh supervisor
          timesRestarted: 1, // by its parent
          intensity: { maxRestarts: 1, withinMs: 60_000 },
          lastFailure: { code: 'ERR_INTENSITY', message: expect.stringContaining('more than 1 restarts'), kind: expect.any(String), at: expect.any(Number) },
          children: [
            { kind: 'actor', id: 'ctr/a', status: 'running', restart: 'permanent', restarts: 0 },
            { kind: 'actor', id: 'ctr/b', status: 'running', restart: 'permanent', restarts: 0 },
          ],
        },
        { kind: 'actor', id: 'ctr/last', status: 'running', restart: 'permanent', restarts: 1 },
      ],
    });
  });

  test('intensity - a root supervisor that gives up publishes ERR_INTENSITY on evt.escalation and the node serves on', async () => {
    const n = await node();
    const escalations = await collect(n.nc, `${n.ns}.evt.escalation`);
    const bystander = await n.system.spawn(COUNTER, { type: 'by', key: 'x' });
    const sup = await n.system.supervise(
      defineSupervisor({ name: 'top', intensity: { maxRestarts: 1, withinMs: 60_000 }, children: [ctr('a', { maxAttempts: 1 }), ctr('b')] }),
    );
    await nextInits(n, 0, 3);
    await inc(n, 'by/x', 2);
    expect(await fail(n, 'ctr/a')).toBe('ERR_HANDLER_FAILED');
    expect(await nextInits(n, 3, 1)).toEqual(['ctr/a']);
    expect(await fail(n, 'ctr/a')).toBe('ERR_HANDLER_FAILED');
    const [event] = (await escalations.waitFor(1)).map((m) => parseJson<Record<string, unknown>>(m.data));
    expect(event).toMatchObject({ node: n.system.nodeId, supervisor: 'top', reason: { code: 'ERR_INTENSITY' }, offender: 'ctr/a' });
    await settled(n, sup);
    expect(escalations.count).toBe(1);
    expect(initsSeen(n, 4)).toEqual([]); // nothing restarted after giving up
    const tree = sup.describe() as SupervisorNode;
    expect(tree.status).toBe('failed');
    expect(tree.children.map((c) => c.status)).toEqual(['stopped', 'stopped']);
    expect(await codeOf(n.system.ref('ctr/a').ask({ op: 'get' }, { timeoutMs: 5_000 }))).toBe('ERR_UNKNOWN_ACTOR');
    expect(await codeOf(n.system.ref('ctr/b').ask({ op: 'get' }, { timeoutMs: 5_000 }))).toBe('ERR_UNKNOWN_ACTOR');
    // the node keeps serving its other actors
    expect(await bystander.ask({ op: 'inc' })).toBe(3);
    expect(n.system.list().map((a) => a.id)).toEqual(['by/x']);
  });

  test('directives - resume keeps the state and dead-letters the message; a kind without it still restarts', async () => {
    const n = await node();
    const dead = await collect(n.nc, `${n.ns}.dead.ctr`);
    const sup = await n.system.supervise(
      defineSupervisor({ name: 'sup', intensity: { maxRestarts: 10, withinMs: 60_000 }, children: [ctr('a', { directives: { 'output-schema': 'resume' } })] }),
    );
    await nextInits(n, 0, 1);
    await inc(n, 'ctr/a', 2);
    expect(await fail(n, 'ctr/a', 'bad-state')).toBe('ERR_OUTPUT_SCHEMA');
    const [letter] = (await dead.waitFor(1)).map((m) => parseJson<DeadLetterBody>(m.data));
    expect(letter!.reason.code).toBe('ERR_OUTPUT_SCHEMA');
    expect(letter!.envelope).toMatchObject({ to: 'ctr/a', kind: 'ask' });
    await settled(n, sup);
    expect(await count(n, 'ctr/a')).toBe(2); // state kept
    expect(initsSeen(n, 1)).toEqual([]); // not restarted
    expect(actorChild(sup.describe() as SupervisorNode, 'ctr/a')).toMatchObject({ status: 'running', restarts: 0, lastFailure: { code: 'ERR_OUTPUT_SCHEMA', kind: 'output-schema' } });
    // a throw has no directive of its own: the default, restart (then tried twice more, and buried)
    expect(await fail(n, 'ctr/a', 'throw')).toBe('ERR_HANDLER_FAILED');
    expect(await nextInits(n, 1, 3)).toEqual(['ctr/a', 'ctr/a', 'ctr/a']);
    await settled(n, sup);
    expect(await count(n, 'ctr/a')).toBe(0);
  });

  test('directives - stop stops the failed child and leaves its siblings alone, even under one_for_all', async () => {
    const n = await node();
    const sup = await n.system.supervise(
      defineSupervisor({ name: 'sup', strategy: 'one_for_all', intensity: { maxRestarts: 10, withinMs: 60_000 }, children: [ctr('a', { directives: { threw: 'stop' } }), ctr('b')] }),
    );
    await nextInits(n, 0, 2);
    await inc(n, 'ctr/b', 2);
    expect(await fail(n, 'ctr/a')).toBe('ERR_HANDLER_FAILED');
    await settled(n, sup);
    const tree = sup.describe() as SupervisorNode;
    expect(tree.children.map((c) => [(c as ActorNode).id, c.status])).toEqual([
      ['ctr/a', 'stopped'],
      ['ctr/b', 'running'],
    ]);
    expect(tree.status).toBe('running');
    expect(await codeOf(n.system.ref('ctr/a').ask({ op: 'get' }, { timeoutMs: 5_000 }))).toBe('ERR_UNKNOWN_ACTOR');
    expect(await count(n, 'ctr/b')).toBe(2);
    expect(initsSeen(n, 2)).toEqual([]);
  });

  test('directives - escalate makes the supervisor give up at the first failure, whatever its intensity', async () => {
    const n = await node();
    const escalations = await collect(n.nc, `${n.ns}.evt.escalation`);
    const sup = await n.system.supervise(
      defineSupervisor({ name: 'top', intensity: { maxRestarts: 10, withinMs: 60_000 }, children: [ctr('a', { directives: { threw: 'escalate' } }), ctr('b')] }),
    );
    await nextInits(n, 0, 2);
    expect(await fail(n, 'ctr/a')).toBe('ERR_HANDLER_FAILED');
    const [event] = (await escalations.waitFor(1)).map((m) => parseJson<Record<string, unknown>>(m.data));
    expect(event).toMatchObject({ node: n.system.nodeId, supervisor: 'top', reason: { code: 'ERR_HANDLER_FAILED' }, offender: 'ctr/a' });
    await settled(n, sup);
    const tree = sup.describe() as SupervisorNode;
    expect(tree.status).toBe('failed');
    expect(tree.children.map((c) => c.status)).toEqual(['stopped', 'stopped']);
    expect(initsSeen(n, 2)).toEqual([]);
  });

  test('poison message - tried maxAttempts times, then dead-lettered with details.attempts; the asker gets the typed error; the mailbox is kept', async () => {
    const n = await node();
    const dead = await collect(n.nc, `${n.ns}.dead.ctr`);
    const sup = await n.system.supervise(defineSupervisor({ name: 'sup', intensity: { maxRestarts: 10, withinMs: 60_000 }, children: [ctr('a')] }));
    await nextInits(n, 0, 1);
    await inc(n, 'ctr/a', 2);
    const ref = n.system.ref('ctr/a');
    const poisoned = errorOf(() => ref.ask({ op: 'fail', how: 'throw' }, { timeoutMs: 10_000 }));
    const queued = later(ref.ask<number>({ op: 'inc' }, { timeoutMs: 10_000 })); // behind the poison message
    const err = await poisoned;
    expect(err.code).toBe('ERR_HANDLER_FAILED');
    expect(err.details).toMatchObject({ attempts: 3 });
    // three tries: the first, and one after each of the first two restarts; buried at the third restart
    expect(await nextInits(n, 1, 3)).toEqual(['ctr/a', 'ctr/a', 'ctr/a']);
    const [letter] = (await dead.waitFor(1)).map((m) => parseJson<DeadLetterBody>(m.data));
    expect(letter!.reason.code).toBe('ERR_HANDLER_FAILED');
    expect(letter!.reason.details).toMatchObject({ attempts: 3 });
    expect(await queued).toBe(1); // handled after the restarts, on fresh state
    await settled(n, sup);
    expect(dead.count).toBe(1);
    expect(actorChild(sup.describe() as SupervisorNode, 'ctr/a')).toMatchObject({ status: 'running', restarts: 3, lastFailure: { code: 'ERR_HANDLER_FAILED', kind: 'threw' } });
    expect(await count(n, 'ctr/a')).toBe(1);
  });

  test('pool - startChild grows a pool, stopChild shrinks it, and its members share the task subject', async () => {
    const n = await node(2);
    const pool = await n.system.supervise(
      defineSupervisor({ name: 'workers', pool: { template: { module: COUNTER, type: 'pw', tasks: ['work'] }, size: 2 } }),
    );
    expect(await nextInits(n, 0, 2)).toEqual(['pw/workers-1', 'pw/workers-2']);
    expect(await pool.startChild()).toBe('pw/workers-3');
    expect(await pool.startChild('extra')).toBe('pw/extra');
    const ids = ['pw/workers-1', 'pw/workers-2', 'pw/workers-3', 'pw/extra'];
    let tree = pool.describe() as SupervisorNode;
    expect(tree.strategy).toBe('pool');
    expect(tree.children.map((c) => [(c as ActorNode).id, c.status])).toEqual(ids.map((id) => [id, 'running']));

    const serve = async (requests: number): Promise<string[]> => {
      const replies = await Promise.all(
        Array.from({ length: requests }, () => n.nc.request(`${n.ns}.task.work`, json({ op: 'get' }), { timeout: 5_000 }).then((m) => parseJson<{ self: string }>(m.data).self)),
      );
      return [...new Set(replies)].sort();
    };
    // queue-group spreading is random: 80 requests over 4 members miss one with p < 1e-9
    expect(await serve(80)).toEqual([...ids].sort());

    expect(await pool.stopChild('pw/workers-1')).toBe(true);
    expect(await pool.stopChild('pw/nope')).toBe(false);
    tree = pool.describe() as SupervisorNode;
    expect(tree.children.map((c) => (c as ActorNode).id)).toEqual(ids.slice(1));
    expect(n.system.list().map((a) => a.id)).not.toContain('pw/workers-1');
    expect(await serve(60)).toEqual(ids.slice(1).sort());
    // a supervisor of fixed children is not a pool
    const fixed = await n.system.supervise(defineSupervisor({ name: 'fixed', children: [ctr('a')] }));
    expect((await errorOf(() => fixed.startChild())).code).toBe('ERR_CONFIG');
  });

  test('shutdown - stopping a supervisor whose child is stuck in a sync loop terminates its worker after shutdownMs', async () => {
    const n = await node(2);
    const bystander = await n.system.spawn(COUNTER, { type: 'by', key: 'x' });
    const spinning = await collect(n.nc, `${n.ns}.actor.probe.spin`);
    // no turn limit: only the shutdown can end the loop
    const sup = await n.system.supervise(defineSupervisor({ name: 'sup', children: [ctr('a', { turnTimeoutMs: 0, shutdownMs: 300 })] }));
    const stuck = later(codeOf(n.system.ref('ctr/a').ask({ op: 'spin', on: 'probe/spin' }, { timeoutMs: 15_000 })));
    await spinning.waitFor(1); // the worker is in the loop now
    const started = performance.now();
    // well under the default shutdownMs (5 s): the limit given is the one applied
    await withDeadline(sup.stop(), 4_000, 'the stop of a supervisor with a stuck child');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(300 - 5);
    expect(['ERR_ACTOR_STOPPED', 'ERR_WORKER_DIED']).toContain(await stuck);
    expect((sup.describe() as SupervisorNode).children[0]!.status).toBe('stopped');
    expect(n.system.list().map((a) => a.id)).toEqual(['by/x']);
    // the pool replaced the terminated worker; the node serves on
    expect(await bystander.ask({ op: 'inc' })).toBe(1);
  });

  // Regression: an actor used to stay "busy" until every turn of its batch had ended, so stopping
  // it waited for its batch-mates' turns and, after shutdownMs, terminated their worker too.
  test('shutdown - stopping one child neither waits for nor kills the turns of actors it shared a batch with', async () => {
    const n = await node(1);
    const pool = await n.system.supervise(defineSupervisor({ name: 'p', pool: { template: { module: COUNTER, type: 'pw' }, size: 4 } }));
    await nextInits(n, 0, 4);
    const ids = ['pw/p-1', 'pw/p-2', 'pw/p-3', 'pw/p-4'];
    const holds = await collect(n.nc, `${n.ns}.actor.probe.hold`);
    // four asks in one tick: more ready actors than batches in flight, so they share batches
    const answers = ids.map((id) => later(n.system.ref(id).ask({ op: 'hold', on: 'probe/hold' }, { timeoutMs: 15_000 }).then((r) => r, (e: { code?: string }) => e.code)));
    await holds.waitFor(4); // all four turns are running
    const started = performance.now();
    expect(await withDeadline(pool.stopChild('pw/p-2'), 4_000, 'stopChild (its turn ends on abort at once)')).toBe(true);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await answers[1]).toBe('ERR_ACTOR_STOPPED');
    // the others are still holding, and answer once released
    for (const m of holds.messages) {
      const env = decodeEnvelope(m.data);
      if (env.from !== 'pw/p-2') replyAsActor(m, 'probe/hold', 'released');
    }
    expect(await Promise.all([answers[0], answers[2], answers[3]])).toEqual(['released', 'released', 'released']);
  });

  // Regression: whenIdle() used to resolve while a supervisor was still at work (between two
  // kernel operations of one decision: stop the old child supervisor, start the new one, restart
  // the next sibling); supervisor operations now count as node activity.
  test('whenIdle - resolves only once supervisors have finished their restarts', async () => {
    const n = await node(2);
    const seen: string[] = [];
    const expected: string[] = [];
    const shape = (sup: SupervisorHandle) =>
      (sup.describe() as SupervisorNode).children.map((c) => `${c.status}:${c.kind === 'actor' ? c.restarts : (c.timesRestarted ?? 0)}`).join(' ');
    for (let i = 0; i < 5; i++) {
      // flat: one_for_all restarts four children
      const flat = await n.system.supervise(
        defineSupervisor({
          name: `flat${i}`,
          strategy: 'one_for_all',
          intensity: { maxRestarts: 10, withinMs: 60_000 },
          children: ['a', 'b', 'c', 'd'].map((key) => ({ module: COUNTER, type: `f${i}`, key, maxAttempts: 1 })),
        }),
      );
      n.system.ref(`f${i}/a`).tell({ op: 'fail', how: 'throw' });
      await n.system.whenIdle();
      seen.push(shape(flat));
      expected.push('running:1 running:1 running:1 running:1');
      // nested: a child supervisor gives up, its parent (rest_for_one) restarts it and the sibling after it
      const nested = await n.system.supervise(
        defineSupervisor({
          name: `nested${i}`,
          strategy: 'rest_for_one',
          intensity: { maxRestarts: 10, withinMs: 60_000 },
          children: [
            defineSupervisor({ name: `inner${i}`, intensity: { maxRestarts: 0, withinMs: 60_000 }, children: [{ module: COUNTER, type: `x${i}`, key: 'a', maxAttempts: 1 }, { module: COUNTER, type: `x${i}`, key: 'b' }] }),
            { module: COUNTER, type: `x${i}`, key: 'last' },
          ],
        }),
      );
      expect(await fail(n, `x${i}/a`)).toBe('ERR_HANDLER_FAILED');
      await n.system.whenIdle();
      seen.push(shape(nested));
      expected.push('running:1 running:1');
    }
    expect(seen).toEqual(expected);
  });
});
