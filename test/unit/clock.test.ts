import { describe, expect, test } from 'vitest';
import { ManualClock, systemClock } from 'autonomy-os';

describe('ManualClock', () => {
  test('ManualClock - time moves only on advance', () => {
    const clock = new ManualClock(1000);
    expect(clock.now()).toBe(1000);
    clock.advance(250);
    expect(clock.now()).toBe(1250);
    expect(new ManualClock().now()).toBe(0);
  });

  test('ManualClock - timers fire in time order, ties in the order they were set', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('c@30'), 30);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('b1@20'), 20);
    clock.setTimeout(() => fired.push('b2@20'), 20);
    clock.advance(25);
    expect(fired).toEqual(['a@10', 'b1@20', 'b2@20']);
    clock.advance(5);
    expect(fired).toEqual(['a@10', 'b1@20', 'b2@20', 'c@30']);
    expect(clock.pending).toBe(0);
  });

  test('ManualClock - a timer sees the time it was due at', () => {
    const clock = new ManualClock(100);
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 10);
    clock.setTimeout(() => seen.push(clock.now()), 40);
    clock.advance(1000);
    expect(seen).toEqual([110, 140]);
    expect(clock.now()).toBe(1100);
  });

  test('ManualClock - timers set by a firing timer fire in the same advance when due', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    clock.setTimeout(() => {
      fired.push(clock.now());
      clock.setTimeout(() => fired.push(clock.now()), 5);
      clock.setTimeout(() => fired.push(clock.now()), 500);
    }, 10);
    clock.advance(20);
    expect(fired).toEqual([10, 15]);
    expect(clock.pending).toBe(1);
  });

  test('ManualClock - clearTimeout cancels a pending timer', () => {
    const clock = new ManualClock();
    const fired: string[] = [];
    const a = clock.setTimeout(() => fired.push('a'), 10);
    clock.setTimeout(() => fired.push('b'), 10);
    expect(clock.pending).toBe(2);
    clock.clearTimeout(a);
    expect(clock.pending).toBe(1);
    clock.advance(10);
    expect(fired).toEqual(['b']);
    clock.clearTimeout(a); // clearing twice is harmless
    expect(clock.pending).toBe(0);
  });

  test('ManualClock - a negative delay fires on the next advance', () => {
    const clock = new ManualClock(50);
    let fired = false;
    clock.setTimeout(() => (fired = true), -10);
    expect(fired).toBe(false);
    clock.advance(0);
    expect(fired).toBe(true);
  });

  test('systemClock - now follows Date.now', () => {
    const before = Date.now();
    const now = systemClock.now();
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
