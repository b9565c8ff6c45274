// The limit on memory outside the V8 heap (maxWorkerExternalBytes): a turn that holds too many
// Buffers has its worker terminated and fails with ERR_MEMORY_LIMIT, with one structured log
// record; the node's other actors serve on, and a supervised hog is restarted.

import { describe, expect, test } from 'vitest';
import { ActorSystem, defineSupervisor, type ActorNode, type SupervisorNode } from 'autonomy-os';
import { collect, rawClient } from '../helpers/nats.js';
import { recordingLogger } from '../helpers/logs.js';
import { codeOf, errorOf, fixture, startSystem } from '../helpers/system.js';

const MiB = 1024 * 1024;
const LIMIT = 64 * MiB;
/** Allocated 4 MiB at a time, yielding between steps; capped well past the limit. */
const HOG = { op: 'hog', stepMib: 4, capMib: 512 } as const;
/** Only so that a watchdog that never fires fails the test with ERR_TURN_TIMEOUT instead of hanging it. */
const TURN_LIMIT = 10_000;

interface LogRecord {
  code?: string;
  threadId?: number;
  externalBytes?: number;
  limit?: number;
}

describe('sandbox memory', () => {
  test('memory limit - a turn holding too many buffers fails with ERR_MEMORY_LIMIT, its worker is replaced, the node serves on', async () => {
    const { records, logger } = recordingLogger<LogRecord>('error');
    const system = await startSystem({ threads: 1, maxWorkerExternalBytes: LIMIT, logger });
    const ns = system.subjects.prefix;
    const hog = await system.spawn(fixture('buffer-hog.mjs'), { type: 'hog', key: 'a', turnTimeoutMs: TURN_LIMIT });
    const echo = await system.spawn(fixture('echo-js.mjs'), { type: 'echo', key: 'a' });
    const nc = await rawClient();
    const dead = await collect(nc, `${ns}.dead.hog`);
    const before = await hog.ask<number>({ op: 'thread' });

    const err = await errorOf(() => hog.ask(HOG));
    expect(err.code).toBe('ERR_MEMORY_LIMIT');
    expect(err.details).toMatchObject({ actorId: 'hog/a', limit: LIMIT });
    expect((err.details as { externalBytes: number }).externalBytes).toBeGreaterThan(LIMIT);
    expect(JSON.parse(new TextDecoder().decode((await dead.waitFor(1))[0]!.data))).toMatchObject({ reason: { code: 'ERR_MEMORY_LIMIT' } });

    // one structured record for the termination, naming the worker it terminated
    const kills = records.filter((r) => r.code === 'ERR_MEMORY_LIMIT' && r.threadId !== undefined);
    expect(kills).toHaveLength(1);
    expect(kills[0]).toMatchObject({ threadId: before, limit: LIMIT });
    expect(kills[0]!.externalBytes).toBeGreaterThan(LIMIT);

    // a new worker; the other actor and the hog itself (unsupervised: state kept) serve on
    expect(await echo.ask({ text: 'still here' })).toMatchObject({ text: 'still here', count: 1 });
    expect(await hog.ask<number>({ op: 'thread' })).not.toBe(before);
    expect(await hog.ask<number>({ op: 'get' })).toBe(2); // thread, thread: the failed turn left no state
    expect(system.list().find((a) => a.id === 'hog/a')).toMatchObject({ failures: 1 });
  });

  test('memory limit - a supervised hog is restarted, with kind worker-died and code ERR_MEMORY_LIMIT', async () => {
    const system = await startSystem({ threads: 1, maxWorkerExternalBytes: LIMIT });
    const bystander = await system.spawn(fixture('echo-js.mjs'), { type: 'echo', key: 'b' });
    const sup = await system.supervise(
      defineSupervisor({ name: 'hogs', children: [{ module: fixture('buffer-hog.mjs'), type: 'hog', key: 's', turnTimeoutMs: TURN_LIMIT, maxAttempts: 1 }] }),
    );
    const hog = system.ref('hog/s');
    await hog.ask({ op: 'get' });
    await hog.ask({ op: 'get' });
    expect(await hog.ask<number>({ op: 'get' })).toBe(2);

    expect(await codeOf(hog.ask(HOG))).toBe('ERR_MEMORY_LIMIT');
    // queued behind the restart: a fresh state from init
    expect(await hog.ask<number>({ op: 'get' })).toBe(0);
    await system.whenIdle();
    expect(await sup.stopChild('no/such-child')).toBe(false); // the supervisor has handled the failure
    const child = (sup.describe() as SupervisorNode).children[0] as ActorNode;
    expect(child).toMatchObject({ id: 'hog/s', status: 'running', restarts: 1, lastFailure: { code: 'ERR_MEMORY_LIMIT', kind: 'worker-died' } });
    expect(await bystander.ask({ text: 'b' })).toMatchObject({ text: 'b', count: 1 });
  });

  test('memory limit - the option takes 0 (no limit) or at least 16 MiB, else ERR_CONFIG', async () => {
    expect((await errorOf(() => ActorSystem.start({ maxWorkerExternalBytes: 1_000 }))).code).toBe('ERR_CONFIG');
    expect((await errorOf(() => ActorSystem.start({ maxWorkerExternalBytes: -1 }))).code).toBe('ERR_CONFIG');
    expect((await errorOf(() => ActorSystem.start({ maxWorkerExternalBytes: 1.5 * MiB * 16 + 0.5 }))).code).toBe('ERR_CONFIG');
    const system = await startSystem({ threads: 1, maxWorkerExternalBytes: 0 });
    const echo = await system.spawn(fixture('echo-js.mjs'), { type: 'echo', key: 'off' });
    expect(await echo.ask({ text: 'x' })).toMatchObject({ text: 'x' });
  });
});
