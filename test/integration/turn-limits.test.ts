import { describe, expect, test } from 'vitest';
import { ManualClock } from 'autonomy-os';
import { later, withDeadline } from '../helpers/deferred.js';
import { collect, rawClient, replyAsActor } from '../helpers/nats.js';
import { codeOf, fixture, startSystem } from '../helpers/system.js';

// The watchdog checks every half limit on the node's clock: with a 1000 ms limit, a turn seen
// running at 500 is aborted at 1500, and its worker terminated at 2000 if it has not yielded.
const LIMIT = 1_000;

describe('turn limits', () => {
  test('turn limit - a turn that never finishes is aborted with ERR_TURN_TIMEOUT and the actor serves on', async () => {
    const clock = new ManualClock();
    const system = await startSystem({ clock });
    const ns = system.subjects.prefix;
    const gate = await system.spawn(fixture('relay.ts'), { type: 'gate', key: 'a', turnTimeoutMs: LIMIT });
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const dead = await collect(nc, `${ns}.dead.gate`);
    const before = await gate.ask<number>({ op: 'thread' });
    const held = codeOf(gate.ask({ op: 'hold', on: 'holder/x' }));
    await holder.waitFor(1); // the turn is running (and ignores its signal)
    clock.advance(LIMIT - 1);
    clock.advance(LIMIT / 2 + 1);
    expect(await held).toBe('ERR_TURN_TIMEOUT');
    expect(JSON.parse(new TextDecoder().decode((await dead.waitFor(1))[0]!.data)).reason.code).toBe('ERR_TURN_TIMEOUT');
    // an answer that comes after the turn ended changes nothing
    replyAsActor(holder.messages[0]!, 'holder/x', 'too late');
    expect(await gate.ask({ op: 'ping' })).toBe('pong');
    expect(await gate.ask<number>({ op: 'thread' })).toBe(before); // aborted, not terminated
    expect(system.list()[0]).toMatchObject({ failures: 1 });
  });

  test('turn limit - a turn stuck in synchronous code has its worker terminated with ERR_TURN_TIMEOUT', async () => {
    const clock = new ManualClock();
    const system = await startSystem({ clock, threads: 1 });
    const ns = system.subjects.prefix;
    const spinner = await system.spawn(fixture('relay.ts'), { type: 'spinner', key: 'a', turnTimeoutMs: LIMIT });
    const nc = await rawClient();
    const spinning = await collect(nc, `${ns}.actor.watcher.x`);
    const before = await spinner.ask<number>({ op: 'thread' });
    const stuck = codeOf(spinner.ask({ op: 'spin', on: 'watcher/x' }));
    await spinning.waitFor(1); // sent just before the loop: the worker is spinning now
    clock.advance(LIMIT + LIMIT / 2); // aborted: no effect on a loop
    clock.advance(LIMIT / 2); // terminated
    expect(await withDeadline(stuck, 5_000, 'the stuck turn to end')).toBe('ERR_TURN_TIMEOUT');
    // the pool replaced the worker; the actor kept its state and serves on
    const after = await spinner.ask<number>({ op: 'thread' });
    expect(after).not.toBe(before);
    expect(await spinner.ask({ op: 'ping' })).toBe('pong');
    expect(system.list()[0]).toMatchObject({ failures: 1, turns: 4 });
  });

  test('turn limit - messages queued behind a terminated turn are not lost', async () => {
    const clock = new ManualClock();
    const system = await startSystem({ clock, threads: 1 });
    const ns = system.subjects.prefix;
    const spinner = await system.spawn(fixture('relay.ts'), { type: 'spinner', key: 'a', turnTimeoutMs: LIMIT });
    const nc = await rawClient();
    const spinning = await collect(nc, `${ns}.actor.watcher.x`);
    const stuck = codeOf(spinner.ask({ op: 'spin', on: 'watcher/x' }));
    await spinning.waitFor(1);
    const queued = later(Promise.all([spinner.ask({ op: 'ping' }), spinner.ask({ op: 'ping' })]));
    clock.advance(LIMIT + LIMIT / 2);
    clock.advance(LIMIT / 2);
    expect(await withDeadline(stuck, 5_000, 'the stuck turn to end')).toBe('ERR_TURN_TIMEOUT');
    expect(await queued).toEqual(['pong', 'pong']);
  });

  test('turn limit - a limit of 0 means none', async () => {
    const clock = new ManualClock();
    const system = await startSystem({ clock, turnTimeoutMs: 0 });
    const ns = system.subjects.prefix;
    const gate = await system.spawn(fixture('relay.ts'), { type: 'gate', key: 'a' });
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const hour = 3_600_000;
    const held = later(gate.ask({ op: 'hold', on: 'holder/x', timeoutMs: hour }, { timeoutMs: hour }));
    await holder.waitFor(1);
    clock.advance(10 * 60_000); // far past the default limit (120 s)
    replyAsActor(holder.messages[0]!, 'holder/x', 'eventually');
    expect(await held).toEqual({ released: 'eventually' });
  });

  test('turn limit - an init that never finishes fails the spawn with ERR_TURN_TIMEOUT', async () => {
    const clock = new ManualClock();
    const system = await startSystem({ clock });
    const ns = system.subjects.prefix;
    const nc = await rawClient();
    const holder = await collect(nc, `${ns}.actor.holder.x`);
    const spawned = codeOf(system.spawn(fixture('slow-init.ts'), { type: 'slow', key: 'a', turnTimeoutMs: LIMIT }));
    await holder.waitFor(1); // init is running, waiting on holder/x
    clock.advance(LIMIT + LIMIT / 2);
    clock.advance(LIMIT / 2);
    try {
      expect(await withDeadline(spawned, 3_000, 'spawn to fail')).toBe('ERR_TURN_TIMEOUT');
      expect(system.list()).toEqual([]);
    } finally {
      replyAsActor(holder.messages[0]!, 'holder/x', 'granted'); // lets init end if nothing stopped it
      await spawned;
    }
  });
});
