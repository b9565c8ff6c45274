// Failover between nodes: instances of one type on two nodes share the task subject's queue
// group, so when one node dies (SIGKILL: no drain, no goodbye) its peers take the work. A client
// sending requests one after another sees replies or typed errors, never silent loss, except
// for what was in flight at the node at the moment it died.

import type { NatsConnection } from 'nats';
import { startNodeProcess } from '../helpers/processes.js';
import { describe, expect, inject, test } from 'vitest';
import { ERROR_HEADER } from 'autonomy-os/internal';
import { withDeadline } from '../helpers/deferred.js';
import { json, parseJson, rawClient } from '../helpers/nats.js';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

/** Long enough for a loaded machine to answer; a timeout means the request was lost. */
const REQUEST_TIMEOUT_MS = 2_000;
/**
 * Requests that may be lost to the kill: the one in flight when the node dies, and one more
 * sent before the server has noticed the dead connection (its subscriptions are still there
 * for a moment, so the queue group may still pick it). Everything else must be answered.
 */
const MAY_BE_LOST = 2;

type Outcome = { i: number; kind: 'reply'; self: string } | { i: number; kind: 'error'; code: string } | { i: number; kind: 'timeout' | 'no-responders' };

async function request(nc: NatsConnection, subject: string, i: number): Promise<Outcome> {
  try {
    const msg = await nc.request(subject, json({ text: `r${i}` }), { timeout: REQUEST_TIMEOUT_MS });
    if (msg.headers?.has(ERROR_HEADER)) return { i, kind: 'error', code: parseJson<{ error: { code: string } }>(msg.data).error.code };
    return { i, kind: 'reply', self: parseJson<{ self: string }>(msg.data).self };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '503') return { i, kind: 'no-responders' };
    if (code === 'TIMEOUT') return { i, kind: 'timeout' };
    throw err;
  }
}

/** Starts failover-node.mjs in a child process; resolves once it prints its ready line. */
async function startChildNode(namespace: string, nodeId: string, instances: number) {
  const { child, exited, id } = await startNodeProcess('failover-node.mjs', [inject('natsUrl'), namespace, nodeId, String(instances)], nodeId);
  expect(id).toBe(nodeId);
  return { child, exited };
}

describe('failover', () => {
  test('failover - when a node is killed, its peers on the task subject serve every later request', async () => {
    const namespace = uniqueNamespace();
    const { child, exited } = await startChildNode(namespace, 'doomed', 2);
    const survivor = await startSystem({ namespace, nodeId: 'survivor' });
    await survivor.spawn(fixture('echo-js.mjs'), { type: 'worker', key: 'survivor-1', tasks: ['work'] });
    const nc = await rawClient();
    const subject = `${namespace}.task.work`;
    const outcomes: Outcome[] = [];
    let i = 0;

    // Before: requests one after another until both nodes have served a few (bounded).
    const servedBy = (node: string) => outcomes.filter((o) => o.kind === 'reply' && o.self.startsWith(`worker/${node}-`)).length;
    while (i < 200 && (outcomes.length < 20 || servedBy('doomed') < 3 || servedBy('survivor') < 3)) outcomes.push(await request(nc, subject, i++));
    expect(outcomes.every((o) => o.kind === 'reply')).toBe(true);
    expect(servedBy('doomed')).toBeGreaterThanOrEqual(3);
    expect(servedBy('survivor')).toBeGreaterThanOrEqual(3);
    const before = outcomes.length;

    // The kill, with one request in flight.
    const inFlight = request(nc, subject, i++);
    child.kill('SIGKILL');
    const [, signal] = await withDeadline(exited, 10_000, 'the killed node to exit');
    expect(signal).toBe('SIGKILL');
    outcomes.push(await inFlight);

    // After: one after another again; every one is answered, by the survivor.
    for (let n = 0; n < 40; n++) outcomes.push(await request(nc, subject, i++));

    const after = outcomes.slice(before); // the one in flight at the kill, then the 40 sent once it had exited
    const lost = after.filter((o) => o.kind === 'timeout');
    expect(lost.length).toBeLessThanOrEqual(MAY_BE_LOST);
    // a loss is the request in flight at the kill, or the one right after it: never a later one
    for (const o of lost) expect(o.i).toBeLessThanOrEqual(before + 1);
    expect(after.filter((o) => o.kind === 'no-responders')).toEqual([]);
    // no request is left without an outcome
    expect(outcomes.map((o) => o.i)).toEqual(Array.from({ length: i }, (_, k) => k));
    // after the kill, only the survivor serves (typed errors would be allowed, but none is expected)
    const post = after.slice(1).filter((o) => o.kind !== 'timeout');
    expect(post.length).toBeGreaterThanOrEqual(40 - (MAY_BE_LOST - 1));
    expect(post.map((o) => (o.kind === 'reply' ? o.self : o.kind))).toEqual(Array(post.length).fill('worker/survivor-1'));
  });
});
