import { describe, expect, test } from 'vitest';
import { ManualClock } from 'autonomy-os';
import { later } from '../helpers/deferred.js';
import { collect, rawClient, replyAsActor } from '../helpers/nats.js';
import { codeOf, fixture, startSystem } from '../helpers/system.js';

interface EchoReply {
  text: string;
  count: number;
  from: string;
  self: string;
  subject: string | null;
}

interface CounterState {
  count: number;
  threads: number[];
}

describe('actors', () => {
  test('spawn - an actor answers an ask once spawned', async () => {
    const system = await startSystem();
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    expect(echo.id).toBe('echo/a');
    const reply = await echo.ask<EchoReply>({ text: 'hello' });
    expect(reply).toMatchObject({ text: 'hello', count: 1, self: 'echo/a', from: `system/${system.nodeId}` });
    expect(system.list().map((a) => [a.id, a.status])).toEqual([['echo/a', 'running']]);
  });

  test('spawn - a plain JavaScript module loads and runs', async () => {
    const system = await startSystem();
    const echo = await system.spawn(fixture('echo-js.mjs'), { type: 'echojs', key: 'a' });
    expect(await echo.ask({ text: 'js' })).toMatchObject({ text: 'js', count: 1, lang: 'js', self: 'echojs/a' });
  });

  test('spawn - a module given as an absolute or relative path string resolves', async () => {
    const system = await startSystem();
    const absolute = await system.spawn(fixture('echo.ts').pathname, { type: 'echo', key: 'abs' });
    expect(await absolute.ask({ text: 'p' })).toMatchObject({ count: 1, self: 'echo/abs' });
    // a relative path resolves against the working directory (the repository root under vitest)
    const relative = await system.spawn('test/fixtures/echo.ts', { type: 'echo', key: 'rel' });
    expect(await relative.ask({ text: 'p' })).toMatchObject({ count: 1, self: 'echo/rel' });
  });

  test('tell - state changes made by tells are seen by a later ask', async () => {
    const system = await startSystem();
    const counter = await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'a' });
    for (let i = 0; i < 10; i++) counter.tell({ op: 'inc' });
    const state = await counter.ask<CounterState>({ op: 'get' });
    expect(state.count).toBe(10);
  });

  test('state - survives across turns and whenIdle waits for tells', async () => {
    const system = await startSystem();
    const counter = await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'a' });
    expect(await counter.ask({ op: 'inc' })).toBe(1);
    expect(await counter.ask({ op: 'inc' })).toBe(2);
    for (let i = 0; i < 25; i++) counter.tell({ op: 'inc' });
    await system.whenIdle();
    expect(system.list()[0]).toMatchObject({ id: 'counter/a', mailbox: 0, turns: 27, failures: 0 });
    expect((await counter.ask<CounterState>({ op: 'get' })).count).toBe(27);
  });

  test('state - survives across workers: the count stays exact with two threads', async () => {
    const system = await startSystem({ threads: 2, maxTurnsPerActor: 1 });
    const a = await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'a' });
    const b = await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'b' });
    const N = 300;
    const asks: Promise<unknown>[] = [];
    for (let i = 0; i < N; i++) {
      asks.push(a.ask({ op: 'inc' }), b.ask({ op: 'inc' }));
    }
    const replies = (await Promise.all(asks)) as number[];
    // each actor's replies are its running count, in order
    expect(replies.filter((_, i) => i % 2 === 0)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(replies.filter((_, i) => i % 2 === 1)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const sa = await a.ask<CounterState>({ op: 'get' });
    const sb = await b.ask<CounterState>({ op: 'get' });
    expect(sa.count).toBe(N);
    expect(sb.count).toBe(N);
    // the turns of the two actors ran on both workers: their state travelled between threads
    expect(new Set([...sa.threads, ...sb.threads]).size).toBe(2);
  });

  test('order - 200 tells from one sender are handled in the order sent', async () => {
    const system = await startSystem({ threads: 2, maxTurnsPerActor: 7 });
    const rec = await system.spawn(fixture('recorder.ts'), { type: 'recorder', key: 'a' });
    for (let seq = 0; seq < 200; seq++) rec.tell({ seq });
    expect(await rec.ask({ get: true })).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  test('order - 200 tells from a raw NATS client are handled in the order sent', async () => {
    const system = await startSystem({ threads: 2, maxTurnsPerActor: 7 });
    await system.spawn(fixture('recorder.ts'), { type: 'recorder', key: 'a' });
    const nc = await rawClient();
    const subject = `${system.subjects.prefix}.actor.recorder.a`;
    for (let seq = 0; seq < 200; seq++) nc.publish(subject, JSON.stringify({ seq }));
    // a request on the same connection is delivered after the tells
    const reply = await nc.request(subject, JSON.stringify({ get: true }), { timeout: 10_000 });
    expect(reply.json()).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  test('concurrency - many actors in parallel all make progress', async () => {
    const system = await startSystem({ threads: 2 });
    const refs = await Promise.all(Array.from({ length: 20 }, (_, i) => system.spawn(fixture('counter.ts'), { type: 'counter', key: `k${i}` })));
    for (let round = 0; round < 20; round++) for (const r of refs) r.tell({ op: 'inc' });
    await system.whenIdle();
    const counts = await Promise.all(refs.map((r) => r.ask<CounterState>({ op: 'get' })));
    expect(counts.map((c) => c.count)).toEqual(Array.from({ length: 20 }, () => 20));
  });

  test('concurrency - an actor whose turn is held does not block other actors', async () => {
    const system = await startSystem({ threads: 1, askTimeoutMs: 5_000 });
    const ns = system.subjects.prefix;
    const gate = await system.spawn(fixture('relay.ts'), { type: 'gate', key: 'a' });
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const held = later(gate.ask({ op: 'hold', on: 'holder/x' }));
    await holder.waitFor(1); // the gate's turn is now running, waiting on holder/x
    for (let i = 1; i <= 5; i++) expect(await echo.ask<EchoReply>({ text: `t${i}` })).toMatchObject({ count: i });
    replyAsActor(holder.messages[0]!, 'holder/x', 'go');
    expect(await held).toEqual({ released: 'go' });
  });

  test('ask - times out on the injected clock with ERR_TIMEOUT', async () => {
    const clock = new ManualClock(1_000_000);
    const system = await startSystem({ clock });
    const nc = await rawClient();
    const silent = await collect(nc, `${system.subjects.prefix}.actor.silent.x`);
    const pending = codeOf(system.ref('silent/x').ask({ hi: 1 }, { timeoutMs: 5_000 }));
    await silent.waitFor(1);
    clock.advance(4_000);
    clock.advance(1_010); // deadlines fire up to 10 ms late, never early
    expect(await pending).toBe('ERR_TIMEOUT');
  });
});
