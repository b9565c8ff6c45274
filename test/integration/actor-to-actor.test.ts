import { unpack } from 'msgpackr';
import { describe, expect, test } from 'vitest';
import { CT_ENVELOPE } from 'autonomy-os/internal';
import { ManualClock } from 'autonomy-os';
import { withDeadline } from '../helpers/deferred.js';
import { collect, parseJson, rawClient, replyAsActor, type DeadLetterBody } from '../helpers/nats.js';
import { codeOf, errorOf, fixture, startSystem } from '../helpers/system.js';

interface CounterState {
  count: number;
}

describe('actor to actor', () => {
  test('ctx.tell - a tell from inside a handler reaches the other actor', async () => {
    const system = await startSystem();
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    const counter = await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'a' });
    expect(await relay.ask({ op: 'tell', to: 'counter/a', value: { op: 'inc' } })).toBe('told');
    expect(await relay.ask({ op: 'tell', to: 'counter/a', value: { op: 'inc' } })).toBe('told');
    await system.whenIdle();
    expect((await counter.ask<CounterState>({ op: 'get' })).count).toBe(2);
  });

  test('ctx.ask - a handler asks another actor and replies with the combined result', async () => {
    const system = await startSystem();
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    const r = await relay.ask<{ via: string; got: Record<string, unknown>; correlationId: string; messageId: string }>({
      op: 'ask',
      to: 'echo/a',
      value: { text: 'inner' },
    });
    expect(r.via).toBe('relay/a');
    expect(r.got).toMatchObject({ text: 'inner', count: 1, from: 'relay/a', self: 'echo/a' });
    // the inner ask belongs to the same chain of work and was caused by the relay's message
    expect(r.got['correlationId']).toBe(r.correlationId);
    expect(r.got['causationId']).toBe(r.messageId);
  });

  test('ctx.ask - an error from the asked actor reaches the handler as a typed error', async () => {
    const system = await startSystem();
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    // the inner ask fails its input schema; the relay does not catch it, so its own turn fails
    const err = await errorOf(() => relay.ask({ op: 'ask', to: 'echo/a', value: { wrong: 1 } }));
    expect(err.code).toBe('ERR_INPUT_SCHEMA');
    const missing = await errorOf(() => relay.ask({ op: 'ask', to: 'nobody/x', value: {} }));
    expect(missing.code).toBe('ERR_UNKNOWN_ACTOR');
  });

  test('ctx.ask - a chain of asks deeper than the batches in flight completes', async () => {
    const system = await startSystem({ threads: 1 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) await system.spawn(fixture('relay.ts'), { type: 'relay', key: k });
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    // relay/a asks relay/b, which asks relay/c ... relay/e asks echo/a: five turns wait at once
    let message: unknown = { text: 'deep' };
    let target = 'echo/a';
    for (const k of ['e', 'd', 'c', 'b', 'a']) {
      message = { op: 'ask', to: target, value: message };
      target = `relay/${k}`;
    }
    type Hop = { via: string; got: Hop | { text: string; from: string } };
    const r = await system.ref(target).ask<Hop>(message, { timeoutMs: 6_000 });
    const vias: string[] = [];
    let hop: Hop | { text: string; from: string } = r;
    while ('via' in hop) {
      vias.push(hop.via);
      hop = hop.got;
    }
    expect(vias).toEqual(['relay/a', 'relay/b', 'relay/c', 'relay/d', 'relay/e']);
    expect(hop).toMatchObject({ text: 'deep', from: 'relay/e' });
  });

  test('ctx.ask - an actor asking itself fails with ERR_DEADLOCK', async () => {
    const system = await startSystem();
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    expect((await errorOf(() => relay.ask({ op: 'ask', to: 'relay/a', value: { op: 'ping' } }))).code).toBe('ERR_DEADLOCK');
    expect(await relay.ask({ op: 'ping' })).toBe('pong');
  });

  test('init - a tell made in init is delivered once the actor serves', async () => {
    const system = await startSystem();
    const starter = await system.spawn(fixture('self-starter.ts'), { type: 'starter', key: 'a' });
    await system.whenIdle();
    expect(await starter.ask({ get: true })).toBe(1);
    expect(system.deadLetterCount).toBe(0);
  });

  test('ctx.publish - a publish reaches a raw subscriber as a msgpack envelope', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    const nc = await rawClient();
    const events = await collect(nc, `${ns}.evt.news`);
    expect(await relay.ask({ op: 'publish', subject: `${ns}.evt.news`, value: { headline: 'hi' } })).toBe('published');
    const [msg] = await events.waitFor(1);
    expect(msg!.headers?.get('content-type')).toBe(CT_ENVELOPE);
    const arr = unpack(msg!.data) as unknown[];
    expect(arr).toHaveLength(14); // 13 fields and the seal (an HMAC with the cluster key)
    expect(arr[1]).toBe('event');
    expect(arr[3]).toBe('relay/a');
    expect(arr[4]).toBe(`${ns}.evt.news`);
    expect(unpack(arr[11] as Uint8Array)).toEqual({ headline: 'hi' });
  });

  test('ctx.publish - an invalid subject fails the turn with ERR_INVALID_SUBJECT', async () => {
    const system = await startSystem();
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    expect((await errorOf(() => relay.ask({ op: 'publish', subject: 'a.*', value: 1 }))).code).toBe('ERR_INVALID_SUBJECT');
    expect((await errorOf(() => relay.ask({ op: 'tell', to: 'not-an-id', value: 1 }))).code).toBe('ERR_INVALID_ID');
  });

  test('ctx.publish - a publish to a task subject reaches the actor serving it', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    const counter = await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'a', tasks: ['count'] });
    await relay.ask({ op: 'publish', subject: `${ns}.task.count`, value: { op: 'inc' } });
    await relay.ask({ op: 'publish', subject: `${ns}.task.count`, value: { op: 'inc' } });
    await relay.ask({ op: 'publish', subject: `${ns}.task.count`, value: { op: 'inc' } });
    // the publishes travel through NATS; the counter sees them once they arrive
    const nc = await rawClient();
    const done = await nc.request(`${ns}.task.count`, JSON.stringify({ op: 'get' }), { timeout: 10_000 });
    expect(done.json<CounterState>().count).toBe(3);
    expect((await counter.ask<CounterState>({ op: 'get' })).count).toBe(3);
  });

  test('ctx.spawn - a handler spawns an actor from a module relative to its own', async () => {
    const system = await startSystem();
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    expect(await relay.ask({ op: 'spawn', module: './echo.ts', type: 'echo', key: 'child' })).toBe('echo/child');
    await system.whenIdle();
    expect(system.list().map((a) => a.id).sort()).toEqual(['echo/child', 'relay/a']);
    expect(await system.ref('echo/child').ask({ text: 'born' })).toMatchObject({ text: 'born', count: 1 });
  });

  test('ctx.stop - a handler stops another actor, then itself', async () => {
    const system = await startSystem();
    const relay = await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'a' });
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    expect(await relay.ask({ op: 'stop', id: 'echo/a' })).toBe('stopping');
    await system.whenIdle();
    expect(system.list().map((a) => a.id)).toEqual(['relay/a']);
    expect((await errorOf(() => system.ref('echo/a').ask({ text: 'gone?' }, { timeoutMs: 5_000 }))).code).toBe('ERR_UNKNOWN_ACTOR');
    expect(await relay.ask({ op: 'stop' })).toBe('stopping');
    await system.whenIdle();
    expect(system.list()).toEqual([]);
  });

  test('stop - system.stop aborts the running turn and answers queued messages with ERR_ACTOR_STOPPED', async () => {
    // The holder never answers and the clock never moves: only the stop can end the held turn.
    const system = await startSystem({ clock: new ManualClock() });
    const ns = system.subjects.prefix;
    const gate = await system.spawn(fixture('relay.ts'), { type: 'gate', key: 'a' });
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const dead = await collect(nc, `${ns}.dead.gate`);
    const held = codeOf(gate.ask({ op: 'hold', on: 'holder/x' }));
    await holder.waitFor(1); // the turn is running, waiting in ctx.ask (it ignores its signal)
    const queued = codeOf(gate.ask({ op: 'ping' }));
    const stopped = system.stop('gate/a');
    expect(system.list()[0]).toMatchObject({ id: 'gate/a', status: 'stopping' });
    expect(await withDeadline(stopped, 3_000, 'stop of an actor waiting in ctx.ask')).toBe(true);
    expect(await held).toBe('ERR_ACTOR_STOPPED');
    expect(await queued).toBe('ERR_ACTOR_STOPPED');
    const letters = (await dead.waitFor(2)).map((m) => parseJson<DeadLetterBody>(m.data).reason.code);
    expect(letters).toEqual(['ERR_ACTOR_STOPPED', 'ERR_ACTOR_STOPPED']);
    expect(system.list()).toEqual([]);
    expect(await system.stop('gate/a')).toBe(false);
    // an answer that comes after the turn ended changes nothing
    replyAsActor(holder.messages[0]!, 'holder/x', 'too late');
    expect((await errorOf(() => gate.ask({ op: 'ping' }, { timeoutMs: 5_000 }))).code).toBe('ERR_UNKNOWN_ACTOR');
  });

  test('stop - the running turn is aborted through ctx.signal', async () => {
    const system = await startSystem({ clock: new ManualClock() });
    const ns = system.subjects.prefix;
    const gate = await system.spawn(fixture('relay.ts'), { type: 'gate', key: 'a' });
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const held = codeOf(gate.ask({ op: 'hold-abortable', on: 'holder/x' }));
    await holder.waitFor(1);
    expect(await withDeadline(system.stop('gate/a'), 5_000, 'stop')).toBe(true);
    expect(await held).toBe('ERR_ACTOR_STOPPED');
  });
});
