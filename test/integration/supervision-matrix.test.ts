// Supervision as a matrix, as OTP's supervisor_SUITE: every way a turn can fail under
// one_for_one x permanent, then strategy x restart type with a handler that throws, then
// restart type x normal exit. A restart shows as a state reset (a counter back at 0) and as an
// init reported to a raw probe subscriber; a child that was not restarted keeps its count.

import type { NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it, onTestFinished } from 'vitest';
import { ActorSystem, defineSupervisor, type ActorChildSpec, type ActorNode, type ActorRef, type RestartType, type SupervisorHandle, type Strategy, type SupervisorNode } from 'autonomy-os';
import { decodeEnvelope, decodeValue } from 'autonomy-os/internal';
import { collect, rawClient, type Collector } from '../helpers/nats.js';
import { codeOf, fixture, uniqueNamespace } from '../helpers/system.js';

const KEYS = ['a', 'b', 'c'] as const;
type Key = (typeof KEYS)[number];
/** Each child is incremented this many times before the failure: a, b, c hold 1, 2, 3. */
const COUNTS: Record<Key, number> = { a: 1, b: 2, c: 3 };
/** A small turn limit for the children in the timeout cases (real clock: aborted after 1x to 1.5x of it). */
const LIMIT = 300;

type How = 'throw' | 'bad-state' | 'hang' | 'loop' | 'exit' | 'oom';

interface Fixture {
  system: ActorSystem;
  /** This case's child type (`ctr<n>`): its children are `<type>/a`, `<type>/b`, `<type>/c`. */
  type: string;
  nc: NatsConnection;
  sup: SupervisorHandle;
  inits: Collector;
  tree(): SupervisorNode;
  child(key: Key): ActorNode;
  ref(key: Key): ActorRef;
  bystander: ActorRef;
}

// One node for the file (a node costs a worker pool that loads its modules: seconds on a busy
// machine). Each case has actors and a supervisor of its own (`ctr<n>/*`, `by<n>/x`, `sup<n>`),
// so no case sees another's traffic, as a namespace per test would give.
let node: ActorSystem;
let seq = 0;

beforeAll(async () => {
  node = await ActorSystem.start({
    nats: inject('natsUrl'),
    namespace: uniqueNamespace(),
    logLevel: 'silent',
    threads: 2,
    // so a turn that hogs memory kills its worker quickly (ERR_WORKER_DIED)
    workerResourceLimits: { maxOldGenerationSizeMb: 32 },
  });
});

afterAll(async () => {
  await node?.shutdown({ timeoutMs: 5_000 });
});

/** Starts a supervisor of counters a, b, c and an unsupervised counter `by<n>/x`
 *  (one module for all of them: each module costs a load in every worker). */
async function setUp(strategy: Strategy, restart: RestartType, extra: Partial<ActorChildSpec> = {}): Promise<Fixture> {
  const n = ++seq;
  const type = `ctr${n}`;
  const system = node;
  const nc = await rawClient();
  const inits = await collect(nc, `${system.subjects.prefix}.actor.probe.inits`);
  const bystander = await system.spawn(fixture('sup-counter-probe.ts'), { type: `by${n}`, key: 'x' });
  const sup = await system.supervise(
    defineSupervisor({
      name: `sup${n}`,
      strategy,
      // Room for every restart a case makes: these cases are about who is restarted, not intensity.
      intensity: { maxRestarts: 20, withinMs: 60_000 },
      children: KEYS.map((key) => ({ module: fixture('sup-counter-probe.ts'), type, key, restart, maxAttempts: 1, ...extra })),
    }),
  );
  onTestFinished(async () => {
    await sup.stop();
    await system.stop(bystander.id);
  });
  await inits.waitFor(1 + KEYS.length); // the initial starts
  inits.messages.length = 0;
  const tree = () => (system.tree().supervisors as SupervisorNode[]).find((s) => s.name === `sup${n}`)!;
  const child = (key: Key) => tree().children.find((c): c is ActorNode => c.kind === 'actor' && c.id === `${type}/${key}`)!;
  return { system, type, nc, sup, inits, tree, child, ref: (key) => system.ref(`${type}/${key}`), bystander };
}

function initsSeen(f: Fixture): string[] {
  return f.inits.messages.map((m) => {
    const env = decodeEnvelope(m.data);
    return (decodeValue(env.payload, env.format) as { init: string }).init;
  });
}

async function pump(f: Fixture): Promise<void> {
  for (const key of KEYS) for (let i = 0; i < COUNTS[key]; i++) await f.ref(key).ask({ op: 'inc' });
  expect(await f.bystander.ask({ op: 'inc' })).toBe(1);
}

async function countOf(f: Fixture, key: Key): Promise<number> {
  return (await f.ref(key).ask<{ count: number }>({ op: 'get' }, { timeoutMs: 5_000 })).count;
}

/**
 * The supervisor has handled every event it was sent: it handles one operation at a time, so
 * a no-op one (stopping a child it does not have) resolves after those queued before it.
 * (`whenIdle()` alone does not cover a supervisor's own work: see supervision-tree.test.ts.)
 */
async function supervisorSettled(f: Fixture): Promise<void> {
  await f.system.whenIdle();
  expect(await f.sup.stopChild('no/such-child')).toBe(false);
}

/** Messages to a child that is gone fail at once with a typed error, never a timeout. */
async function expectGone(f: Fixture, key: Key): Promise<void> {
  await supervisorSettled(f);
  expect(['ERR_UNKNOWN_ACTOR', 'ERR_ACTOR_STOPPED']).toContain(await codeOf(f.ref(key).ask({ op: 'get' }, { timeoutMs: 5_000 })));
  expect(f.system.list().map((a) => a.id)).not.toContain(`${f.type}/${key}`);
  expect(f.child(key).status).toBe('stopped');
}

/** The restarted children are back at 0 (and were re-initialised once each, in order); the others kept their count. */
async function expectRestarted(f: Fixture, restarted: readonly Key[], stopped: readonly Key[] = []): Promise<void> {
  await f.inits.waitFor(restarted.length);
  await supervisorSettled(f);
  expect(initsSeen(f)).toEqual(restarted.map((k) => `${f.type}/${k}`));
  for (const key of KEYS) {
    if (stopped.includes(key)) await expectGone(f, key);
    else expect({ key, count: await countOf(f, key) }).toEqual({ key, count: restarted.includes(key) ? 0 : COUNTS[key] });
  }
  expect(f.tree().children.map((c) => [(c as ActorNode).id, c.status, (c as ActorNode).restarts])).toEqual(
    KEYS.map((key) => [`${f.type}/${key}`, stopped.includes(key) ? 'stopped' : 'running', restarted.includes(key) ? 1 : 0]),
  );
  // the node's other actors serve on, their state untouched
  expect(await f.bystander.ask({ op: 'inc' })).toBe(2);
}

describe('supervision matrix', () => {
  // ---- every way of failing, one_for_one x permanent --------------------------------

  it.each<[How, string, string, number]>([
    ['throw', 'ERR_HANDLER_FAILED', 'threw', LIMIT],
    ['bad-state', 'ERR_OUTPUT_SCHEMA', 'output-schema', LIMIT],
    ['hang', 'ERR_TURN_TIMEOUT', 'timeout', LIMIT],
    ['loop', 'ERR_TURN_TIMEOUT', 'timeout', LIMIT],
    ['exit', 'ERR_WORKER_DIED', 'worker-died', LIMIT],
    // no turn limit: on a busy machine the limit could end the allocation loop before the heap does
    ['oom', 'ERR_WORKER_DIED', 'worker-died', 0],
  ])('one_for_one x permanent - a turn that fails by %s answers %s and restarts only that child', async (how, code, kind, turnTimeoutMs) => {
    const f = await setUp('one_for_one', 'permanent', { turnTimeoutMs });
    await pump(f);
    expect(await codeOf(f.ref('b').ask({ op: 'fail', how }, { timeoutMs: 10_000 }))).toBe(code);
    await expectRestarted(f, ['b']);
    expect(f.child('b').lastFailure).toMatchObject({ code, kind });
  });

  // ---- strategy x restart type, with a handler that throws ----------------------------

  it.each<[Strategy, RestartType, Key[], Key[]]>([
    ['one_for_one', 'permanent', ['b'], []],
    ['one_for_one', 'transient', ['b'], []],
    ['one_for_one', 'temporary', [], ['b']],
    ['one_for_all', 'permanent', ['a', 'b', 'c'], []],
    ['one_for_all', 'transient', ['a', 'b', 'c'], []],
    ['one_for_all', 'temporary', [], ['b']],
    ['rest_for_one', 'permanent', ['b', 'c'], []],
    ['rest_for_one', 'transient', ['b', 'c'], []],
    ['rest_for_one', 'temporary', [], ['b']],
  ])('%s x %s - when b throws, restarted: %j, stopped: %j', async (strategy, restart, restarted, stopped) => {
    const f = await setUp(strategy, restart);
    await pump(f);
    expect(await codeOf(f.ref('b').ask({ op: 'fail', how: 'throw' }))).toBe('ERR_HANDLER_FAILED');
    await expectRestarted(f, restarted, stopped);
  });

  // OTP: "a temporary child is never restarted, even when a sibling's death makes a
  // one_for_all or rest_for_one supervisor terminate it" -- it is stopped instead.
  it.each<[Strategy]>([['one_for_all'], ['rest_for_one']])('%s - a temporary sibling of a failed child is stopped, not restarted', async (strategy) => {
    const n = ++seq;
    const nc = await rawClient();
    const inits = await collect(nc, `${node.subjects.prefix}.actor.probe.inits`);
    const child = (key: string, restart: RestartType) => ({ module: fixture('sup-counter-probe.ts'), type: `ctr${n}`, key, restart, maxAttempts: 1 });
    const sup = await node.supervise(
      defineSupervisor({ name: `sup${n}`, strategy, intensity: { maxRestarts: 20, withinMs: 60_000 }, children: [child('a', 'permanent'), child('t', 'temporary'), child('c', 'permanent')] }),
    );
    onTestFinished(() => sup.stop());
    await inits.waitFor(3);
    expect(await node.ref(`ctr${n}/t`).ask({ op: 'inc' })).toBe(1);
    expect(await codeOf(node.ref(`ctr${n}/a`).ask({ op: 'fail', how: 'throw' }))).toBe('ERR_HANDLER_FAILED');
    await inits.waitFor(3 + 2); // a and c restarted (and t too, wrongly: then a and t)
    await node.whenIdle();
    expect(await sup.stopChild('no/such-child')).toBe(false); // a barrier: see supervisorSettled
    const tree = sup.describe() as SupervisorNode;
    expect(tree.children.map((c) => [(c as ActorNode).id, c.status])).toEqual([
      [`ctr${n}/a`, 'running'],
      [`ctr${n}/t`, 'stopped'],
      [`ctr${n}/c`, 'running'],
    ]);
  });

  // ---- restart type x normal exit (the child stops itself) ----------------------------

  it.each<[RestartType, boolean]>([
    ['permanent', true],
    ['transient', false],
    ['temporary', false],
  ])('one_for_one x %s - a child that stops itself is restarted: %s', async (restart, restarts) => {
    const f = await setUp('one_for_one', restart);
    await pump(f);
    expect(await f.ref('b').ask({ op: 'stop' })).toBe('stopping');
    if (restarts) {
      await expectRestarted(f, ['b']);
      return;
    }
    await expectGone(f, 'b');
    expect(initsSeen(f)).toEqual([]);
    expect(await countOf(f, 'a')).toBe(1);
    expect(await countOf(f, 'c')).toBe(3);
  });
});
