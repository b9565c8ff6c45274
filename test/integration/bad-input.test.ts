import { describe, expect, test } from 'vitest';
import { CT_ENVELOPE } from 'autonomy-os/internal';
import { later } from '../helpers/deferred.js';
import { collect, hdrs, json, parseJson, rawClient, replyAsActor, type DeadLetterBody } from '../helpers/nats.js';
import { codeOf, errorOf, fixture, startSystem } from '../helpers/system.js';

interface ErrorBody {
  error: { code: string; message: string; details?: Record<string, unknown> };
}

describe('bad input', () => {
  test('bad input - a body that is not JSON gets ERR_DECODE, a header and a dead letter', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const dead = await collect(nc, `${ns}.dead.>`);
    const msg = await nc.request(`${ns}.task.echo`, new TextEncoder().encode('{not json'), { timeout: 10_000 });
    expect(msg.headers?.get('aos-error')).toBe('ERR_DECODE');
    expect(msg.json<ErrorBody>().error.code).toBe('ERR_DECODE');
    const [letter] = await dead.waitFor(1);
    expect(letter!.subject).toBe(`${ns}.dead.echo`);
    const body = parseJson<DeadLetterBody>(letter!.data);
    expect(body.reason.code).toBe('ERR_DECODE');
    expect(Buffer.from(body.payload, 'base64').toString()).toBe('{not json');
  });

  test('bad input - a body failing the input schema gets ERR_INPUT_SCHEMA and a dead letter', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const dead = await collect(nc, `${ns}.dead.echo`);
    const msg = await nc.request(`${ns}.task.echo`, json({ text: 42 }), { timeout: 10_000 });
    expect(msg.headers?.get('aos-error')).toBe('ERR_INPUT_SCHEMA');
    const err = msg.json<ErrorBody>().error;
    expect(err.code).toBe('ERR_INPUT_SCHEMA');
    expect(err.details?.['issues']).toEqual([expect.objectContaining({ path: ['text'] })]);
    expect(parseJson<DeadLetterBody>((await dead.waitFor(1))[0]!.data).reason.code).toBe('ERR_INPUT_SCHEMA');
    // an actor asking with a bad value gets the same code
    const ref = system.ref('echo/a');
    expect((await errorOf(() => ref.ask({ wrong: true }))).code).toBe('ERR_INPUT_SCHEMA');
    expect(system.list()[0]).toMatchObject({ failures: 0 });
  });

  test('bad input - an ask to an actor that runs nowhere is ERR_UNKNOWN_ACTOR', async () => {
    const system = await startSystem();
    const err = await errorOf(() => system.ref('nobody/x').ask({ hi: 1 }, { timeoutMs: 5_000 }));
    expect(err.code).toBe('ERR_UNKNOWN_ACTOR');
  });

  test('bad input - a tell to an actor that runs nowhere is dead-lettered as ERR_UNKNOWN_ACTOR', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const nc = await rawClient();
    const dead = await collect(nc, `${ns}.dead.nobody`);
    system.ref('nobody/x').tell({ hello: 'anyone?' });
    const [letter] = await dead.waitFor(1);
    const body = parseJson<DeadLetterBody>(letter!.data);
    expect(body.reason.code).toBe('ERR_UNKNOWN_ACTOR');
    expect(body.type).toBe('nobody');
    expect(body.node).toBe(system.nodeId);
    expect(body.envelope).toMatchObject({ to: 'nobody/x', from: `system/${system.nodeId}`, kind: 'tell' });
    expect(system.deadLetterCount).toBe(1);
  });

  test('bad input - an invalid AgentId is refused with ERR_INVALID_ID', async () => {
    const system = await startSystem();
    for (const id of ['noslash', 'a/b/c', 'a.b/c', 'a/*']) expect((await errorOf(() => system.ref(id))).code, id).toBe('ERR_INVALID_ID');
  });

  test('bad input - an oversized message gets ERR_PAYLOAD_TOO_LARGE and a dead letter', async () => {
    const system = await startSystem({ maxMessageBytes: 2048 });
    const ns = system.subjects.prefix;
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const dead = await collect(nc, `${ns}.dead.echo`);
    const big = json({ text: 'x'.repeat(4096) });
    const msg = await nc.request(`${ns}.task.echo`, big, { timeout: 10_000 });
    expect(msg.headers?.get('aos-error')).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(msg.json<ErrorBody>().error.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    const body = parseJson<DeadLetterBody>((await dead.waitFor(1))[0]!.data);
    expect(body.reason.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect(body.size).toBe(big.length);
    // the same limit applies to what a node sends
    expect((await errorOf(() => echo.ask({ text: 'x'.repeat(4096) }))).code).toBe('ERR_PAYLOAD_TOO_LARGE');
    expect((await echo.ask<{ count: number }>({ text: 'small' })).count).toBe(1);
  });

  test('bad input - a malformed envelope gets ERR_DECODE and a dead letter', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    const nc = await rawClient();
    const dead = await collect(nc, `${ns}.dead.echo`);
    const garbage = Uint8Array.from([0x93, 0x01, 0xa3, 0x61, 0x73, 0x6b, 0xff, 0x00, 0x42]);
    const msg = await nc.request(`${ns}.actor.echo.a`, garbage, { timeout: 10_000, headers: hdrs({ 'content-type': CT_ENVELOPE }) });
    expect(msg.headers?.get('aos-error')).toBe('ERR_DECODE');
    expect(msg.json<ErrorBody>().error.code).toBe('ERR_DECODE');
    const body = parseJson<DeadLetterBody>((await dead.waitFor(1))[0]!.data);
    expect(body.reason.code).toBe('ERR_DECODE');
    expect(Array.from(Buffer.from(body.payload, 'base64'))).toEqual(Array.from(garbage));
  });

  test("bad input - a full mailbox ('reject') refuses new messages with ERR_MAILBOX_FULL", async () => {
    const system = await startSystem({ mailbox: { capacity: 2 } });
    const ns = system.subjects.prefix;
    const gate = await system.spawn(fixture('relay.ts'), { type: 'gate', key: 'a' });
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const dead = await collect(nc, `${ns}.dead.gate`);
    const held = later(gate.ask({ op: 'hold', on: 'holder/x' }));
    await holder.waitFor(1); // gate's turn is running and holds; its mailbox is empty
    const first = later(gate.ask({ op: 'ping' }));
    const second = later(gate.ask({ op: 'ping' }));
    expect((await errorOf(() => gate.ask({ op: 'ping' }))).code).toBe('ERR_MAILBOX_FULL');
    const raw = await nc.request(`${ns}.actor.gate.a`, json({ op: 'ping' }), { timeout: 10_000 });
    expect(raw.headers?.get('aos-error')).toBe('ERR_MAILBOX_FULL');
    gate.tell({ op: 'ping' });
    const letters = (await dead.waitFor(3)).map((m) => parseJson<DeadLetterBody>(m.data));
    expect(letters.map((l) => l.reason.code)).toEqual(['ERR_MAILBOX_FULL', 'ERR_MAILBOX_FULL', 'ERR_MAILBOX_FULL']);
    replyAsActor(holder.messages[0]!, 'holder/x', 'go');
    expect(await held).toEqual({ released: 'go' });
    expect(await first).toBe('pong');
    expect(await second).toBe('pong');
  });

  test("bad input - a full mailbox ('drop-oldest') evicts the oldest with ERR_MAILBOX_FULL", async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const gate = await system.spawn(fixture('relay.ts'), { type: 'gate', key: 'a', mailbox: { capacity: 2, overflow: 'drop-oldest' } });
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const held = later(gate.ask({ op: 'hold', on: 'holder/x' }));
    await holder.waitFor(1);
    const oldest = codeOf(gate.ask({ op: 'ping' }));
    const second = later(gate.ask({ op: 'ping' }));
    const third = later(gate.ask({ op: 'ping' }));
    expect(await oldest).toBe('ERR_MAILBOX_FULL');
    replyAsActor(holder.messages[0]!, 'holder/x', 'go');
    expect(await held).toEqual({ released: 'go' });
    expect(await second).toBe('pong');
    expect(await third).toBe('pong');
    expect(system.deadLetterCount).toBe(1);
  });

  test('bad input - after every kind of bad input the node still serves a normal ask', async () => {
    const system = await startSystem({ maxMessageBytes: 2048, mailbox: { capacity: 1 } });
    const ns = system.subjects.prefix;
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const codes: (string | null | undefined)[] = [];
    const ask = async (subject: string, data: Uint8Array, headers?: Record<string, string>) => {
      const m = await nc.request(subject, data, { timeout: 10_000, ...(headers === undefined ? {} : { headers: hdrs(headers) }) });
      codes.push(m.headers?.get('aos-error'));
    };
    await ask(`${ns}.task.echo`, new TextEncoder().encode('nope'));
    await ask(`${ns}.task.echo`, json({ text: 1 }));
    await ask(`${ns}.task.echo`, json({ text: 'y'.repeat(5000) }));
    await ask(`${ns}.actor.echo.a`, Uint8Array.of(0xc1, 0xc1), { 'content-type': CT_ENVELOPE });
    await ask(`${ns}.actor.echo.a`, new Uint8Array(0), { 'content-type': CT_ENVELOPE });
    await ask(`${ns}.actor.echo.a`, Uint8Array.of(0x92, 0x01), { 'content-type': 'application/msgpack' }); // truncated msgpack
    await ask(`${ns}.actor.echo.a`, json(null));
    expect(codes).toEqual(['ERR_DECODE', 'ERR_INPUT_SCHEMA', 'ERR_PAYLOAD_TOO_LARGE', 'ERR_DECODE', 'ERR_DECODE', 'ERR_DECODE', 'ERR_INPUT_SCHEMA']);
    expect((await errorOf(() => system.ref('nobody/x').ask({}))).code).toBe('ERR_UNKNOWN_ACTOR');
    expect(await echo.ask<{ text: string; count: number }>({ text: 'still here' })).toMatchObject({ text: 'still here', count: 1 });
    expect(system.list()[0]).toMatchObject({ status: 'running', failures: 0 });
  });
});
