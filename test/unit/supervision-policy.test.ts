// Supervision's pure core on a simulated clock: the restart decision (OTP do_restart/3),
// the intensity window (add_restart/3) and backoff with jitter and reset.

import { describe, expect, it } from 'vitest';
import { addRestart, EMPTY_WINDOW, FRESH_BACKOFF, nextBackoff, shouldRestart, type ExitReason, type RestartType } from 'autonomy-os/internal';

const normal: ExitReason = { kind: 'normal' };
const shutdown: ExitReason = { kind: 'shutdown' };
const crash: ExitReason = { kind: 'failure', failure: 'threw', code: 'ERR_HANDLER_FAILED' };

describe('restart decision', () => {
  const table: [RestartType, ExitReason, boolean][] = [
    ['permanent', normal, true],
    ['permanent', shutdown, true],
    ['permanent', crash, true],
    ['transient', normal, false],
    ['transient', shutdown, false],
    ['transient', crash, true],
    ['temporary', normal, false],
    ['temporary', shutdown, false],
    ['temporary', crash, false],
  ];
  it.each(table)('restart decision - %s child after %o restarts: %s', (type, reason, expected) => {
    expect(shouldRestart(type, reason)).toBe(expected);
  });
});

describe('intensity window', () => {
  it('intensity - allows maxRestarts within the window and gives up on the next', () => {
    const intensity = { maxRestarts: 3, withinMs: 1000 };
    let w = EMPTY_WINDOW;
    for (const t of [0, 100, 200]) {
      const r = addRestart(w, t, intensity);
      expect(r.exceeded).toBe(false);
      w = r.window;
    }
    expect(addRestart(w, 300, intensity).exceeded).toBe(true);
  });

  it('intensity - restarts older than the window are forgotten', () => {
    const intensity = { maxRestarts: 2, withinMs: 1000 };
    let w = addRestart(EMPTY_WINDOW, 0, intensity).window;
    w = addRestart(w, 500, intensity).window;
    const r = addRestart(w, 1000, intensity); // the restart at 0 is now exactly withinMs old: out
    expect(r.exceeded).toBe(false);
    expect(r.window.restarts).toEqual([500, 1000]);
  });

  it('intensity - maxRestarts 0 gives up on the first restart', () => {
    expect(addRestart(EMPTY_WINDOW, 0, { maxRestarts: 0, withinMs: 1000 }).exceeded).toBe(true);
  });
});

describe('backoff', () => {
  const policy = { initialMs: 10, maxMs: 100, factor: 2, jitter: 0, resetAfterMs: 1000 };

  it('backoff - doubles per consecutive failure up to the cap', () => {
    let s = FRESH_BACKOFF;
    const delays: number[] = [];
    for (let t = 0; t < 6; t++) {
      const r = nextBackoff(s, t * 10, policy);
      delays.push(r.delayMs);
      s = r.state;
    }
    expect(delays).toEqual([10, 20, 40, 80, 100, 100]);
  });

  it('backoff - resets after a quiet period', () => {
    let s = nextBackoff(FRESH_BACKOFF, 0, policy).state;
    s = nextBackoff(s, 10, policy).state;
    expect(nextBackoff(s, 20, policy).delayMs).toBe(40);
    expect(nextBackoff(s, 10 + 1000, policy).delayMs).toBe(10);
  });

  it('backoff - jitter stays within the spread', () => {
    const jittered = { ...policy, jitter: 0.5 };
    expect(nextBackoff(FRESH_BACKOFF, 0, jittered, () => 0).delayMs).toBe(5);
    expect(nextBackoff(FRESH_BACKOFF, 0, jittered, () => 0.999999).delayMs).toBe(15);
  });

  it('backoff - initialMs 0 restarts at once', () => {
    expect(nextBackoff(FRESH_BACKOFF, 0, { ...policy, initialMs: 0 }).delayMs).toBe(0);
  });
});
