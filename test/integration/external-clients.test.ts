import { pack, unpack } from 'msgpackr';
import { createInbox } from 'nats';
import { connect as connectTcp } from 'node:net';
import { createInterface } from 'node:readline';
import { describe, expect, inject, onTestFinished, test } from 'vitest';
import { withDeadline } from '../helpers/deferred.js';
import { collect, hdrs, json, rawClient } from '../helpers/nats.js';
import { fixture, startSystem } from '../helpers/system.js';
import { ERROR_HEADER } from 'autonomy-os/internal';

interface EchoReply {
  text: string;
  count: number;
  from: string;
  self: string;
  subject: string | null;
  correlationId: string;
  causationId: string | null;
}

describe('external clients', () => {
  test('task - a JSON request from a raw client reaches the actor and gets JSON back', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const msg = await nc.request(`${ns}.task.echo`, json({ text: 'from outside' }), { timeout: 10_000 });
    expect(msg.headers?.get('content-type')).toBe('application/json');
    expect(msg.headers?.get('aos-error') ?? '').toBe('');
    const reply = msg.json<EchoReply>();
    expect(reply).toMatchObject({ text: 'from outside', count: 1, from: 'external', self: 'echo/a', subject: `${ns}.task.echo` });
    const again = await nc.request(`${ns}.task.echo`, json({ text: 'again' }), { timeout: 10_000 });
    expect(again.json<EchoReply>().count).toBe(2);
  });

  test('task - a task subject given in full is served as is', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: [`${ns}.task.jobs.echo`] });
    const nc = await rawClient();
    const msg = await nc.request(`${ns}.task.jobs.echo`, json({ text: 'x' }), { timeout: 10_000 });
    expect(msg.json<EchoReply>().subject).toBe(`${ns}.task.jobs.echo`);
    expect(system.list()[0]!.tasks).toEqual([`${ns}.task.jobs.echo`]);
  });

  test('task - two instances of one type share requests, each answered exactly once', async () => {
    const system = await startSystem({ threads: 2 });
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'b', tasks: ['echo'] });
    const nc = await rawClient();
    const inbox = createInbox();
    const replies = await collect(nc, `${inbox}.>`);
    const N = 60;
    for (let i = 0; i < N; i++) nc.publish(`${ns}.task.echo`, json({ text: `r${i}` }), { reply: `${inbox}.${i}` });
    await replies.waitFor(N);
    await system.whenIdle();
    await nc.flush(); // anything the node sent before it went idle has reached us now
    expect(replies.count).toBe(N);
    const bodies = replies.messages.map((m) => ({ i: Number(m.subject.slice(inbox.length + 1)), ...m.json<EchoReply>() }));
    expect(new Set(bodies.map((b) => b.i)).size).toBe(N);
    for (const b of bodies) expect(b.text).toBe(`r${b.i}`);
    const bySelf = new Map<string, number[]>();
    for (const b of bodies) bySelf.set(b.self, [...(bySelf.get(b.self) ?? []), b.count]);
    expect([...bySelf.keys()].sort()).toEqual(['echo/a', 'echo/b']);
    // each instance handled each of its requests once: its counts are 1..k with no gap or repeat
    for (const counts of bySelf.values()) expect([...counts].sort((x, y) => x - y)).toEqual(counts.map((_, i) => i + 1));
  });

  test('identity - a header claiming an actor identity from outside is denied as a spoof, and the handler never runs', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const forged = hdrs({ 'aos-from': 'admin/root' });
    const msg = await nc.request(`${ns}.task.echo`, json({ text: 'trust me' }), { timeout: 10_000, headers: forged });
    expect(msg.headers?.get(ERROR_HEADER)).toBe('ERR_DENIED');
    expect(msg.json<{ error: { code: string; details: { reason: string; claimed: string } } }>().error).toMatchObject({ code: 'ERR_DENIED', details: { reason: 'spoof', claimed: 'admin/root' } });
    // The next honest request is the echo's first turn: the forged one never reached the handler.
    const honest = await nc.request(`${ns}.task.echo`, json({ text: 'plain' }), { timeout: 10_000 });
    expect(honest.json<EchoReply>()).toMatchObject({ from: 'external', count: 1 });
  });

  test('identity - kernel headers from outside are ignored, and a client may name itself with aos-client', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const h = hdrs({ 'aos-from': 'external', 'aos-id': 'ffffffffffffffff', 'aos-correlation-id': 'f'.repeat(32), 'aos-client': 'billing-portal' });
    const msg = await nc.request(`${ns}.task.echo`, json({ text: 'hello' }), { timeout: 10_000, headers: h });
    const reply = msg.json<EchoReply>();
    expect(reply.from).toBe('external/billing-portal');
    expect(reply.correlationId).not.toBe('f'.repeat(32));
  });

  test('identity - a direct message from a raw client is from external', async () => {
    const system = await startSystem();
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    const nc = await rawClient();
    const msg = await nc.request(`${system.subjects.prefix}.actor.echo.a`, json({ text: 'direct' }), { timeout: 10_000 });
    expect(msg.json<EchoReply>()).toMatchObject({ from: 'external', self: 'echo/a', count: 1 });
  });

  test('trace - a W3C traceparent from a client becomes the correlation and causation ids', async () => {
    const system = await startSystem();
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const span = '00f067aa0ba902b7';
    const msg = await nc.request(`${system.subjects.prefix}.task.echo`, json({ text: 't' }), {
      timeout: 10_000,
      headers: hdrs({ traceparent: `00-${trace}-${span}-01` }),
    });
    expect(msg.json<EchoReply>()).toMatchObject({ correlationId: trace, causationId: span });
    const bad = await nc.request(`${system.subjects.prefix}.task.echo`, json({ text: 't' }), {
      timeout: 10_000,
      headers: hdrs({ traceparent: `00-${'0'.repeat(32)}-${span}-01` }),
    });
    const r = bad.json<EchoReply>();
    expect(r.correlationId).toMatch(/^[0-9a-f]{32}$/);
    expect(r.correlationId).not.toBe('0'.repeat(32));
    expect(r.causationId).toBeNull();
  });

  test('task - a msgpack request gets a msgpack reply labelled as msgpack', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const nc = await rawClient();
    const msg = await nc.request(`${ns}.task.echo`, pack({ text: 'packed' }), { timeout: 10_000, headers: hdrs({ 'content-type': 'application/msgpack' }) });
    expect(unpack(msg.data)).toMatchObject({ text: 'packed', count: 1, from: 'external' });
    expect(msg.headers?.get('content-type')).toBe('application/msgpack');
  });

  test('task - a client with nothing but a TCP socket and the NATS text protocol gets JSON back', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    const url = new URL(inject('natsUrl'));
    const socket = connectTcp(Number(url.port), url.hostname);
    onTestFinished(() => void socket.destroy());
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    const reply = new Promise<string>((resolve) => {
      let expectPayload = false;
      lines.on('line', (line) => {
        if (expectPayload) resolve(line);
        else if (line.startsWith('MSG _INBOX.me ')) expectPayload = true;
        else if (line.startsWith('INFO ')) {
          const body = '{"text":"hello"}';
          socket.write(`SUB _INBOX.me 1\r\nPUB ${ns}.task.echo _INBOX.me ${Buffer.byteLength(body)}\r\n${body}\r\n`);
        }
      });
    });
    const body = JSON.parse(await withDeadline(reply, 10_000, 'MSG on the socket')) as EchoReply;
    expect(body).toMatchObject({ text: 'hello', count: 1, from: 'external', self: 'echo/a' });
  });
});
