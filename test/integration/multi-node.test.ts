import { createInbox } from 'nats';
import { describe, expect, inject, test } from 'vitest';
import { startNodeProcess } from '../helpers/processes.js';
import { withDeadline } from '../helpers/deferred.js';
import { collect, json, parseJson, rawClient } from '../helpers/nats.js';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

interface EchoReply {
  text: string;
  count: number;
  from: string;
  self: string;
}

describe('multi-node', () => {
  test('nodes - an actor on one node asks an actor on another by its id', async () => {
    const namespace = uniqueNamespace();
    const a = await startSystem({ namespace, nodeId: 'na' });
    const b = await startSystem({ namespace, nodeId: 'nb' });
    const relay = await a.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    await b.spawn(fixture('echo.ts'), { type: 'echo', key: 'b' });
    const r = await relay.ask<{ via: string; got: EchoReply }>({ op: 'ask', to: 'echo/b', value: { text: 'across' } });
    expect(r.via).toBe('relay/a');
    expect(r.got).toMatchObject({ text: 'across', count: 1, from: 'relay/a', self: 'echo/b' });
    // and a ref on A reaches B directly
    expect(await a.ref('echo/b').ask<EchoReply>({ text: 'ref' })).toMatchObject({ count: 2, from: 'system/na' });
    // a tell from B to A travels the same way
    const counter = await a.spawn(fixture('counter.ts'), { type: 'counter', key: 'a' });
    for (let i = 0; i < 5; i++) b.ref('counter/a').tell({ op: 'inc' });
    // asked from B too: it leaves B after the tells, on the same connection
    expect((await b.ref('counter/a').ask<{ count: number }>({ op: 'get' })).count).toBe(5);
    expect((await counter.ask<{ count: number }>({ op: 'get' })).count).toBe(5);
  });

  test('nodes - 200 tells from another node arrive in order', async () => {
    const namespace = uniqueNamespace();
    const a = await startSystem({ namespace, nodeId: 'na' });
    const b = await startSystem({ namespace, nodeId: 'nb' });
    await a.spawn(fixture('recorder.ts'), { type: 'recorder', key: 'a' });
    const ref = b.ref('recorder/a');
    for (let seq = 0; seq < 200; seq++) ref.tell({ seq });
    // the ask leaves B after the tells on the same connection, so it is handled after them
    expect(await ref.ask({ get: true })).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  test('nodes - tasks on one subject are shared between instances on both nodes', async () => {
    const namespace = uniqueNamespace();
    const a = await startSystem({ namespace, nodeId: 'na' });
    const b = await startSystem({ namespace, nodeId: 'nb' });
    await a.spawn(fixture('echo.ts'), { type: 'worker', key: 'a', tasks: ['jobs'] });
    await b.spawn(fixture('echo.ts'), { type: 'worker', key: 'b', tasks: ['jobs'] });
    const nc = await rawClient();
    const inbox = createInbox();
    const replies = await collect(nc, `${inbox}.>`);
    const N = 60;
    for (let i = 0; i < N; i++) nc.publish(`${namespace}.task.jobs`, json({ text: `j${i}` }), { reply: `${inbox}.${i}` });
    await replies.waitFor(N);
    await a.whenIdle();
    await b.whenIdle();
    await nc.flush();
    expect(replies.count).toBe(N);
    const bodies = replies.json<EchoReply>();
    expect(new Set(replies.messages.map((m) => m.subject)).size).toBe(N);
    const served = new Set(bodies.map((r) => r.self));
    expect([...served].sort()).toEqual(['worker/a', 'worker/b']);
    const handled = a.list()[0]!.turns + b.list()[0]!.turns;
    expect(handled).toBe(N);
  });

  test('nodes - an actor stops an actor on another node', async () => {
    const namespace = uniqueNamespace();
    const a = await startSystem({ namespace, nodeId: 'na' });
    const b = await startSystem({ namespace, nodeId: 'nb' });
    const relay = await a.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    await b.spawn(fixture('echo.ts'), { type: 'echo', key: 'b' });
    const nc = await rawClient();
    const stops = await collect(nc, `${namespace}.ctl.all.stop`);
    expect(await relay.ask({ op: 'stop', id: 'echo/b' })).toBe('stopping');
    await stops.waitFor(1); // the request is on the server, so on its way to B too
    await b.whenIdle();
    expect(b.list()).toEqual([]);
    expect(a.list().map((x) => x.id)).toEqual(['relay/a']);
  });

  test('nodes - a message too large for the receiving node is ERR_PAYLOAD_TOO_LARGE at the asker', async () => {
    const namespace = uniqueNamespace();
    const a = await startSystem({ namespace, nodeId: 'na' });
    const b = await startSystem({ namespace, nodeId: 'nb', maxMessageBytes: 2048 });
    await b.spawn(fixture('echo.ts'), { type: 'echo', key: 'b' });
    const nc = await rawClient();
    const dead = await collect(nc, `${namespace}.dead.echo`);
    const code = await a
      .ref('echo/b')
      .ask({ text: 'x'.repeat(4096) })
      .then(
        () => 'answered',
        (e: { code?: string }) => e.code,
      );
    expect(JSON.parse(new TextDecoder().decode((await dead.waitFor(1))[0]!.data)).reason.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(code).toBe('ERR_PAYLOAD_TOO_LARGE');
  });

  test('nodes - a large message (shared with the worker, not copied) arrives intact from a node and from a client', async () => {
    const namespace = uniqueNamespace();
    const a = await startSystem({ namespace, nodeId: 'na' });
    const b = await startSystem({ namespace, nodeId: 'nb' });
    await b.spawn(fixture('echo.ts'), { type: 'echo', key: 'b' });
    // Past SHARED_PAYLOAD_BYTES (16 KiB), with every byte value of UTF-8 text in it.
    const text = Array.from({ length: 70_000 }, (_, i) => String.fromCharCode(32 + (i % 90), i % 7 === 0 ? 0xe9 : 0x41)).join('');
    const viaNode = await a.ref('echo/b').ask<EchoReply>({ text });
    expect(viaNode.text).toBe(text);
    const nc = await rawClient();
    const reply = await nc.request(`${namespace}.actor.echo.b`, new TextEncoder().encode(JSON.stringify({ text: `${text}!` })), { timeout: 10_000 });
    expect(parseJson<EchoReply>(reply.data).text).toBe(`${text}!`);
  });

  test('nodes - a node in another process serves asks from this one', async () => {
    const namespace = uniqueNamespace();
    const { child, exited, id } = await startNodeProcess('node-b.mjs', [inject('natsUrl'), namespace, 'proc-b'], 'node-b');
    expect(id).toBe('proc-b');

    const a = await startSystem({ namespace, nodeId: 'proc-a' });
    const reply = await a.ref('echo/b').ask<EchoReply & { lang: string }>({ text: 'other process' });
    expect(reply).toMatchObject({ text: 'other process', count: 1, from: 'system/proc-a', self: 'echo/b', lang: 'js' });
    const relay = await a.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    expect(await relay.ask({ op: 'ask', to: 'echo/b', value: { text: 'via relay' } })).toMatchObject({ got: { count: 2, from: 'relay/a' } });

    child.kill('SIGTERM');
    const [code] = await withDeadline(exited, 10_000, 'node-b exit');
    expect(code).toBe(0);
    // once it is gone, its actor is unknown
    expect(await a.ref('echo/b').ask({ text: 'gone' }).then(() => 'answered', (e: { code?: string }) => e.code)).toBe('ERR_UNKNOWN_ACTOR');
  });
});
