import { describe, expect, test } from 'vitest';
import { decodeEnvelope, decodeValue } from 'autonomy-os/internal';
import { collect, parseJson, rawClient, type DeadLetterBody } from '../helpers/nats.js';
import { errorOf, fixture, startSystem } from '../helpers/system.js';

describe('turn failures', () => {
  test('transaction - a throwing turn commits no tell, publish, reply or state, and is dead-lettered', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    const nc = await rawClient();
    const tells = await collect(nc, `${ns}.actor.sink.x`); // sink/x runs nowhere: a committed tell would land here
    const events = await collect(nc, `${ns}.evt.boom`);
    const dead = await collect(nc, `${ns}.dead.>`);

    expect(await faulty.ask({ op: 'set', v: 7 })).toBe(7);
    const err = await errorOf(() => faulty.ask({ op: 'boom', tellTo: 'sink/x', subject: `${ns}.evt.boom` }));
    expect(err.code).toBe('ERR_HANDLER_FAILED');
    expect(await faulty.ask({ op: 'get' })).toBe(7); // state unchanged, even though the handler mutated it in place

    // the same effects from a turn that succeeds: they arrive, and they are the first thing that does
    expect(await faulty.ask({ op: 'effects', tellTo: 'sink/x', subject: `${ns}.evt.boom`, marker: 'ok' })).toBe('ok');
    await tells.waitFor(1);
    await events.waitFor(1);
    const [dl] = (await dead.waitFor(1)).map((m) => parseJson<DeadLetterBody>(m.data));
    await nc.flush();
    expect(tells.count).toBe(1);
    expect(events.count).toBe(1);
    const told = decodeEnvelope(tells.messages[0]!.data);
    expect(decodeValue(told.payload, told.format)).toEqual({ marker: 'ok' });
    const published = decodeEnvelope(events.messages[0]!.data);
    expect(decodeValue(published.payload, published.format)).toEqual({ marker: 'ok' });

    expect(dead.messages[0]!.subject).toBe(`${ns}.dead.faulty`);
    expect(dl!.reason.code).toBe('ERR_HANDLER_FAILED');
    expect(dl!.type).toBe('faulty');
    expect(dead.count).toBe(1);
    expect(system.list()[0]).toMatchObject({ failures: 1 });
  });

  test('transaction - a failed turn does not lose the messages queued behind it', async () => {
    const system = await startSystem({ maxTurnsPerActor: 64 });
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    faulty.tell({ op: 'set', v: 1 });
    faulty.tell({ op: 'boom', tellTo: 'sink/x', subject: `${system.subjects.prefix}.evt.boom` });
    faulty.tell({ op: 'set', v: 2 });
    faulty.tell({ op: 'set', v: 3 });
    expect(await faulty.ask({ op: 'get' })).toBe(3);
    expect(system.deadLetterCount).toBe(1);
  });

  test('ask - a handler that does not reply answers the asker with ERR_NO_REPLY', async () => {
    const system = await startSystem();
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    expect((await errorOf(() => faulty.ask({ op: 'noreply' }))).code).toBe('ERR_NO_REPLY');
    expect(await faulty.ask({ op: 'get' })).toBe(0);
  });

  test('ask - a raw client whose request is not replied to gets ERR_NO_REPLY', async () => {
    const system = await startSystem();
    await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    const nc = await rawClient();
    const msg = await nc.request(`${system.subjects.prefix}.actor.faulty.a`, JSON.stringify({ op: 'noreply' }), { timeout: 10_000 });
    expect(msg.headers?.get('aos-error')).toBe('ERR_NO_REPLY');
    expect(msg.json<{ error: { code: string } }>().error.code).toBe('ERR_NO_REPLY');
  });

  test('reply - replying twice fails the turn with ERR_ALREADY_REPLIED', async () => {
    const system = await startSystem();
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    expect((await errorOf(() => faulty.ask({ op: 'reply-twice' }))).code).toBe('ERR_ALREADY_REPLIED');
    expect(system.list()[0]).toMatchObject({ failures: 1 });
    expect(await faulty.ask({ op: 'get' })).toBe(0);
  });

  test('tell - a failing turn that nobody waits on is dead-lettered, the actor keeps serving', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    const nc = await rawClient();
    const dead = await collect(nc, `${ns}.dead.faulty`);
    faulty.tell({ op: 'boom', tellTo: 'sink/x', subject: `${ns}.evt.boom` });
    const [letter] = await dead.waitFor(1);
    const body = parseJson<DeadLetterBody>(letter!.data);
    expect(body.reason.code).toBe('ERR_HANDLER_FAILED');
    expect(body.node).toBe(system.nodeId);
    expect(body.envelope?.to).toBe('faulty/a');
    expect(decodeValue(Buffer.from(body.payload, 'base64'), 'msgpack')).toMatchObject({ op: 'boom' });
    expect(await faulty.ask({ op: 'set', v: 4 })).toBe(4);
  });

  test('schema - a state that breaks the state schema fails the turn with ERR_OUTPUT_SCHEMA', async () => {
    const system = await startSystem();
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    await faulty.ask({ op: 'set', v: 5 });
    expect((await errorOf(() => faulty.ask({ op: 'bad-state' }))).code).toBe('ERR_OUTPUT_SCHEMA');
    expect(await faulty.ask({ op: 'get' })).toBe(5);
  });

  test('schema - a reply that breaks the output schema fails the turn with ERR_OUTPUT_SCHEMA', async () => {
    const system = await startSystem();
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    expect((await errorOf(() => faulty.ask({ op: 'bad-output' }))).code).toBe('ERR_OUTPUT_SCHEMA');
    expect(system.list()[0]).toMatchObject({ failures: 1 });
  });

  test('worker death - the asker gets ERR_WORKER_DIED and the actor keeps its state and serves on', async () => {
    const system = await startSystem({ threads: 1 });
    const ns = system.subjects.prefix;
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    const nc = await rawClient();
    const dead = await collect(nc, `${ns}.dead.faulty`);
    await faulty.ask({ op: 'set', v: 11 });
    expect((await errorOf(() => faulty.ask({ op: 'exit' }))).code).toBe('ERR_WORKER_DIED');
    expect(await faulty.ask({ op: 'get' })).toBe(11);
    expect(parseJson<DeadLetterBody>((await dead.waitFor(1))[0]!.data).reason.code).toBe('ERR_WORKER_DIED');
  });

  test('encode - a value that cannot be encoded is refused with ERR_ENCODE', async () => {
    const system = await startSystem();
    const faulty = await system.spawn(fixture('faulty.ts'), { type: 'faulty', key: 'a' });
    const circular: Record<string, unknown> = {};
    circular['self'] = circular;
    expect((await errorOf(() => faulty.tell(circular))).code).toBe('ERR_ENCODE');
    expect((await errorOf(() => faulty.ask(circular))).code).toBe('ERR_ENCODE');
    expect(await faulty.ask({ op: 'get' })).toBe(0);
  });

  test('worker death - a turn that runs its worker out of memory gets ERR_WORKER_DIED, the node serves on', async () => {
    const system = await startSystem({ threads: 1, workerResourceLimits: { maxOldGenerationSizeMb: 64 } });
    const hog = await system.spawn(fixture('misbehave.ts'), { type: 'hog', key: 'a' });
    expect(await hog.ask({ do: 'ok' })).toEqual({ handled: 1 });
    expect((await errorOf(() => hog.ask({ do: 'oom' }))).code).toBe('ERR_WORKER_DIED');
    expect(await hog.ask({ do: 'ok' })).toEqual({ handled: 2 });
  });
});
