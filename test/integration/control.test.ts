import { createInbox } from 'nats';
import { describe, expect, test } from 'vitest';
import { collect, json, rawClient } from '../helpers/nats.js';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

interface ListReply {
  node: string;
  actors: { id: string; status: string; tasks: string[]; mailbox: number; turns: number; failures: number }[];
}

describe('control plane', () => {
  test('control - list on a node returns its actors as JSON', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const echo = await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a', tasks: ['echo'] });
    await system.spawn(fixture('counter.ts'), { type: 'counter', key: 'b' });
    await echo.ask({ text: 'one turn' });
    const nc = await rawClient();
    const msg = await nc.request(`${ns}.ctl.${system.nodeId}.list`, undefined, { timeout: 10_000 });
    expect(msg.headers?.get('content-type')).toBe('application/json');
    const body = msg.json<ListReply>();
    expect(body.node).toBe(system.nodeId);
    const byId = new Map(body.actors.map((a) => [a.id, a]));
    expect([...byId.keys()].sort()).toEqual(['counter/b', 'echo/a']);
    expect(byId.get('echo/a')).toMatchObject({ status: 'running', tasks: [`${ns}.task.echo`], turns: 1, failures: 0, mailbox: 0 });
  });

  test('control - ping on all answers from every node', async () => {
    const namespace = uniqueNamespace();
    const a = await startSystem({ namespace, nodeId: 'alpha' });
    const b = await startSystem({ namespace, nodeId: 'beta' });
    const nc = await rawClient();
    const inbox = createInbox();
    const replies = await collect(nc, inbox);
    nc.publish(`${namespace}.ctl.all.ping`, new Uint8Array(), { reply: inbox });
    await replies.waitFor(2);
    expect(replies.json<{ node: string }>().map((r) => r.node).sort()).toEqual([a.nodeId, b.nodeId]);
    const one = await nc.request(`${namespace}.ctl.beta.ping`, undefined, { timeout: 10_000 });
    expect(one.json()).toEqual({ node: 'beta' });
  });

  test('control - stop stops an actor and reports it', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'a' });
    const nc = await rawClient();
    const stop = await nc.request(`${ns}.ctl.${system.nodeId}.stop`, json({ id: 'echo/a' }), { timeout: 10_000 });
    expect(stop.json()).toEqual({ node: system.nodeId, stopped: true });
    expect(system.list()).toEqual([]);
    const again = await nc.request(`${ns}.ctl.${system.nodeId}.stop`, json({ id: 'echo/a' }), { timeout: 10_000 });
    expect(again.json()).toEqual({ node: system.nodeId, stopped: false });
  });

  test('control - malformed requests get typed errors and the plane keeps answering', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    const nc = await rawClient();
    const ctl = (verb: string, body?: Uint8Array) => nc.request(`${ns}.ctl.${system.nodeId}.${verb}`, body, { timeout: 10_000 });
    expect((await ctl('explode')).json<{ error: { code: string } }>().error.code).toBe('ERR_BAD_REQUEST');
    expect((await ctl('stop', json({}))).json<{ error: { code: string } }>().error.code).toBe('ERR_BAD_REQUEST');
    expect((await ctl('stop', new TextEncoder().encode('{oops'))).json<{ error: { code: string } }>().error.code).toBe('ERR_DECODE');
    expect((await ctl('ping')).json()).toEqual({ node: system.nodeId });
  });
});
