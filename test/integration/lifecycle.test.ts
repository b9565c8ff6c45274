import { connect } from 'nats';
import { describe, expect, inject, test } from 'vitest';
import { ActorSystem, ManualClock, type ActorSystemOptions } from 'autonomy-os';
import { withDeadline } from '../helpers/deferred.js';
import type { Msg } from 'nats';
import { decodeEnvelope, decodeValue } from 'autonomy-os/internal';
import { collect, parseJson, rawClient } from '../helpers/nats.js';
import { codeOf, errorOf, fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

/** The `seq` a counter published for a message it handled. */
function seqOf(m: Msg): number {
  const env = decodeEnvelope(m.data);
  return (decodeValue(env.payload, env.format) as { seq: number }).seq;
}

describe('lifecycle', () => {
  test('shutdown - every message told before shutdown is handled', async () => {
    const system = await startSystem({ threads: 2 });
    const ns = system.subjects.prefix;
    const counter = await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'a' });
    const nc = await rawClient();
    const handled = await collect(nc, `${ns}.evt.handled`);
    const N = 500;
    for (let seq = 0; seq < N; seq++) counter.tell({ op: 'inc', seq, publish: `${ns}.evt.handled` });
    await system.shutdown();
    await handled.waitFor(N);
    expect(handled.messages.map(seqOf)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(system.deadLetterCount).toBe(0);
  });

  test('shutdown - tells from a raw client that reached the server before shutdown are handled', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'a', tasks: ['count'] });
    const nc = await rawClient();
    const handled = await collect(nc, `${ns}.evt.handled`);
    const N = 300;
    for (let seq = 0; seq < N; seq++) {
      nc.publish(seq % 2 === 0 ? `${ns}.actor.counter.a` : `${ns}.task.count`, JSON.stringify({ op: 'inc', seq, publish: `${ns}.evt.handled` }));
    }
    await nc.flush();
    await system.shutdown();
    await handled.waitFor(N);
    expect(handled.messages.map(seqOf).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(system.deadLetterCount).toBe(0);
  });

  test('shutdown - tell, ask and spawn afterwards throw ERR_SHUTTING_DOWN', async () => {
    const system = await startSystem();
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    await system.shutdown();
    expect((await errorOf(() => echo.tell({ text: 'late' }))).code).toBe('ERR_SHUTTING_DOWN');
    expect((await errorOf(() => echo.ask({ text: 'late' }))).code).toBe('ERR_SHUTTING_DOWN');
    expect((await errorOf(() => system.spawn(fixture('echo.ts'), { type: 'echo', key: 'b' }))).code).toBe('ERR_SHUTTING_DOWN');
    expect((await errorOf(() => system.ref('echo/a').tell({ text: 'late' }))).code).toBe('ERR_SHUTTING_DOWN');
  });

  test('shutdown - is idempotent', async () => {
    const system = await startSystem();
    const a = system.shutdown();
    const b = system.shutdown();
    expect(b).toBe(a);
    await Promise.all([a, b]);
    await system.shutdown();
  });

  test('shutdown - an ask still waiting when the node stops is answered ERR_SHUTTING_DOWN', async () => {
    const system = await startSystem();
    const nc = await rawClient();
    const silent = await collect(nc, `${system.subjects.prefix}.actor.silent.x`);
    const pending = codeOf(system.ref('silent/x').ask({}, { timeoutMs: 60_000 }));
    await silent.waitFor(1);
    await system.shutdown();
    expect(await pending).toBe('ERR_SHUTTING_DOWN');
  });

  test('shutdown - messages still queued at its deadline are answered ERR_SHUTTING_DOWN and dead-lettered', async () => {
    const clock = new ManualClock();
    const system = await startSystem({ clock });
    const ns = system.subjects.prefix;
    const gate = await system.spawn(fixture('relay.ts'), { type: 'gate', key: 'a' });
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const dead = await collect(nc, `${ns}.dead.gate`);
    const held = codeOf(gate.ask({ op: 'hold', on: 'holder/x' }));
    await holder.waitFor(1); // the gate's turn holds: nothing behind it can run
    const queued = codeOf(gate.ask({ op: 'ping' }));
    const done = system.shutdown({ timeoutMs: 1_000 });
    clock.advance(1_000);
    await withDeadline(done, 10_000, 'shutdown');
    expect(await queued).toBe('ERR_SHUTTING_DOWN');
    const letters = (await dead.waitFor(1)).map((m) => parseJson<{ reason: { code: string } }>(m.data).reason.code);
    expect(letters).toContain('ERR_SHUTTING_DOWN');
    // the held ask is not left hanging either
    expect(await withDeadline(held, 10_000, 'held ask to settle')).toEqual(expect.stringMatching(/^ERR_/));
  });

  test('config - bad options fail start with ERR_CONFIG', async () => {
    const nats = inject('natsUrl');
    const bad: ActorSystemOptions[] = [
      { threads: 0 },
      { threads: 1.5 },
      { logLevel: 'loud' as 'info' },
      { maxMessageBytes: 10 },
      { askTimeoutMs: -1 },
      { maxTurnsPerActor: 0 },
      { mailbox: { capacity: 0 } },
      { mailbox: { overflow: 'never' as 'reject' } },
      { namespace: '' },
      { nodeId: '' },
      { nats: '' },
    ];
    for (const opts of bad) {
      const err = await errorOf(() => ActorSystem.start({ nats, logLevel: 'silent', ...opts }));
      expect(err.code, JSON.stringify(opts)).toBe('ERR_CONFIG');
    }
  });

  test('config - a namespace or node id that is not a NATS-safe token fails start with ERR_CONFIG', async () => {
    const nats = inject('natsUrl');
    for (const opts of [{ namespace: 'a.b' }, { namespace: 'a b' }, { nodeId: 'n.1' }, { nodeId: 'n*' }] as ActorSystemOptions[]) {
      const err = await errorOf(() => ActorSystem.start({ nats, logLevel: 'silent', threads: 1, ...opts }));
      expect(err.code, JSON.stringify(opts)).toBe('ERR_CONFIG');
    }
  });

  test('config - an unreachable NATS server fails start with ERR_TRANSPORT', async () => {
    const err = await errorOf(() => ActorSystem.start({ nats: 'nats://127.0.0.1:1', logLevel: 'silent', threads: 1 }));
    expect(err.code).toBe('ERR_TRANSPORT');
  });

  test('spawn - a module that does not exist is ERR_ACTOR_MODULE', async () => {
    const system = await startSystem();
    expect((await errorOf(() => system.spawn(fixture('no-such-actor.ts'), { type: 'ghost', key: 'a' }))).code).toBe('ERR_ACTOR_MODULE');
    expect((await errorOf(() => system.spawn(fixture('no-such-actor.mjs'), { type: 'ghost', key: 'b' }))).code).toBe('ERR_ACTOR_MODULE');
    expect(system.list()).toEqual([]);
  });

  test('spawn - a module that does not default-export defineActor is ERR_ACTOR_MODULE', async () => {
    const system = await startSystem();
    expect((await errorOf(() => system.spawn(fixture('not-an-actor.ts'), { type: 'fake', key: 'a' }))).code).toBe('ERR_ACTOR_MODULE');
    expect(system.list()).toEqual([]);
  });

  test('spawn - the same id twice is ERR_ACTOR_EXISTS and the first keeps running', async () => {
    const system = await startSystem();
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    expect((await errorOf(() => system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' }))).code).toBe('ERR_ACTOR_EXISTS');
    expect((await errorOf(() => system.spawn(fixture('counter.ts'), { type: 'echo', key: 'a' }))).code).toBe('ERR_ACTOR_EXISTS');
    expect(await echo.ask({ text: 'x' })).toMatchObject({ count: 1 });
  });

  test('spawn - an init that throws rejects the spawn with ERR_HANDLER_FAILED', async () => {
    const system = await startSystem();
    expect((await errorOf(() => system.spawn(fixture('init-throws.ts'), { type: 'bad', key: 'a' }))).code).toBe('ERR_HANDLER_FAILED');
    expect(system.list()).toEqual([]);
    // the id is free again: nothing half-spawned is left behind
    const echo = await system.spawn(fixture('echo.ts'), { type: 'bad', key: 'a' });
    expect(await echo.ask({ text: 'ok' })).toMatchObject({ count: 1 });
  });

  test('spawn - two concurrent spawns of one id: one runs, the other is ERR_ACTOR_EXISTS', async () => {
    const system = await startSystem();
    const results = await Promise.all([0, 1].map(() => codeOf(system.spawn(fixture('echo.ts'), { type: 'echo', key: 'twin' }))));
    expect(results.sort()).toEqual(['(resolved)', 'ERR_ACTOR_EXISTS']);
    expect(system.list().map((a) => a.id)).toEqual(['echo/twin']);
  });

  test('spawn - an invalid type, key or task subject is refused', async () => {
    const system = await startSystem();
    expect((await errorOf(() => system.spawn(fixture('echo.ts'), { type: 'echo', key: 'x', tasks: ['a..b'] }))).code).toBe('ERR_INVALID_SUBJECT');
    expect((await errorOf(() => system.spawn(fixture('echo.ts'), { type: 'a.b', key: 'x' }))).code).toBe('ERR_INVALID_ID');
    expect((await errorOf(() => system.spawn(fixture('echo.ts'), { type: 'echo', key: '' }))).code).toBe('ERR_INVALID_ID');
  });

  test('embedded - a node started without a NATS URL runs its own server and stops it', async () => {
    const system = await ActorSystem.start({ namespace: uniqueNamespace(), logLevel: 'silent', threads: 1 });
    let url: string;
    try {
      url = system.natsUrl;
      expect(url).not.toBe(inject('natsUrl'));
      expect(url).not.toMatch(/:4222$/);
      const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
      expect(await echo.ask({ text: 'embedded' })).toMatchObject({ text: 'embedded', count: 1 });
      const nc = await connect({ servers: url });
      expect(parseJson<{ node: string }>((await nc.request(`${system.subjects.prefix}.ctl.all.ping`, undefined, { timeout: 5_000 })).data).node).toBe(system.nodeId);
      await nc.close();
    } finally {
      await system.shutdown();
    }
    const err = await errorOf(() => connect({ servers: url, reconnect: false, timeout: 2_000 }));
    expect(err.code).toBe('CONNECTION_REFUSED');
  });
});
