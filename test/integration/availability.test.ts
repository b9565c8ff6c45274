// Failover and "never a silent timeout" (ARCHITECTURE.md, "Supervision"): while an instance
// waits out its restart backoff, its peers on another node take its tasks; when no instance of
// a type is left anywhere, its task subject is answered ERR_UNAVAILABLE at once, dead-lettered,
// and escalated; an instance that comes back takes the subject again.

import { describe, expect, test } from 'vitest';
import { defineSupervisor, ManualClock } from 'autonomy-os';
import { ERROR_HEADER } from 'autonomy-os/internal';
import { collect, json, parseJson, rawClient } from '../helpers/nats.js';
import { fixture, startSystem, uniqueNamespace } from '../helpers/system.js';

const COUNTER = fixture('sup-counter.ts');

interface Escalation {
  node: string;
  reason: { code: string };
  subject?: string;
  type?: string;
  supervisor?: string;
}

describe('availability', () => {
  test('unavailable - when the last instance of a type is gone, requests get ERR_UNAVAILABLE at once, dead-lettered and escalated', async () => {
    const ns = uniqueNamespace();
    const node = await startSystem({ namespace: ns });
    const nc = await rawClient();
    const escalations = await collect(nc, `${ns}.evt.escalation`);
    const dead = await collect(nc, `${ns}.dead.av`);
    await node.supervise(
      defineSupervisor({
        name: 'only',
        intensity: { maxRestarts: 0, withinMs: 60_000 }, // the first failure makes it give up
        children: [{ module: COUNTER, type: 'av', key: 'a', tasks: [`${ns}.task.av`], maxAttempts: 1 }],
      }),
    );
    const subject = `${ns}.task.av`;
    expect(parseJson((await nc.request(subject, json({ op: 'inc' }), { timeout: 5_000 })).data)).toBe(1);

    const failed = await nc.request(subject, json({ op: 'fail', how: 'throw' }), { timeout: 5_000 });
    expect(parseJson<{ error: { code: string } }>(failed.data).error.code).toBe('ERR_HANDLER_FAILED');

    // The supervisor gives up (ERR_INTENSITY) and, with its only child gone, the node stands in (ERR_UNAVAILABLE).
    await escalations.waitFor(2);
    const codes = escalations.json<Escalation>().map((e) => e.reason.code);
    expect(codes).toContain('ERR_INTENSITY');
    const unavailable = escalations.json<Escalation>().find((e) => e.reason.code === 'ERR_UNAVAILABLE')!;
    expect(unavailable).toMatchObject({ node: node.nodeId, subject, type: 'av' });

    const started = performance.now();
    const reply = await nc.request(subject, json({ op: 'inc' }), { timeout: 5_000 });
    expect(performance.now() - started).toBeLessThan(2_000); // answered, not timed out
    expect(reply.headers?.get(ERROR_HEADER)).toBe('ERR_UNAVAILABLE');
    expect(parseJson<{ error: { code: string; details: { subject: string } } }>(reply.data).error).toMatchObject({ code: 'ERR_UNAVAILABLE', details: { subject } });
    // a task without a reply subject is not silently dropped either
    nc.publish(subject, json({ op: 'inc' }));
    const letters = await dead.waitFor(3); // the failed message, the request, the task
    expect(letters.map((m) => parseJson<{ reason: { code: string } }>(m.data).reason.code).filter((c) => c === 'ERR_UNAVAILABLE')).toHaveLength(2);

    // An instance that comes back takes the subject again.
    await node.spawn(COUNTER, { type: 'av', key: 'b', tasks: [subject] });
    expect(parseJson((await nc.request(subject, json({ op: 'inc' }), { timeout: 5_000 })).data)).toBe(1);
    await nc.close();
  });

  test('failover - while an instance waits out its restart backoff, a peer on another node takes its tasks', async () => {
    const ns = uniqueNamespace();
    const clock = new ManualClock(Date.now()); // node A's backoff lasts until the test advances it
    const a = await startSystem({ namespace: ns, nodeId: 'fa', clock });
    const b = await startSystem({ namespace: ns, nodeId: 'fb' });
    const subject = `${ns}.task.work`;
    await a.supervise(
      defineSupervisor({
        name: 'a',
        backoff: { initialMs: 60_000, maxMs: 60_000 },
        children: [{ module: COUNTER, type: 'w', key: 'a', tasks: [subject], maxAttempts: 1 }],
      }),
    );
    await b.spawn(COUNTER, { type: 'w', key: 'b', tasks: [subject] });
    const nc = await rawClient();

    // A's instance fails and waits out a 60 s backoff (it steps aside from its task subjects
    // before its failed message is answered): every task goes to B meanwhile.
    await expect(a.ref('w/a').ask({ op: 'fail', how: 'throw' })).rejects.toMatchObject({ code: 'ERR_HANDLER_FAILED' });
    const served: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = parseJson<{ self: string }>((await nc.request(subject, json({ op: 'get' }), { timeout: 5_000 })).data);
      served.push(r.self);
    }
    expect(new Set(served)).toEqual(new Set(['w/b']));
    expect(clock.pending).toBeGreaterThan(0); // the restart is still waiting

    // The backoff ends: A serves again, with a fresh state.
    const restarted = a.whenIdle();
    clock.advance(60_000);
    await restarted;
    expect(await a.ref('w/a').ask({ op: 'get' })).toMatchObject({ count: 0, self: 'w/a' });
    await nc.close();
  });
});
