// The broker's stateful limits on injected times: the token bucket (burst, refill, take)
// and the budget counter (use, add, exhausted, window roll).

import { describe, expect, test } from 'vitest';
import type { BudgetDoc } from 'autonomy-os';
import { BudgetCounter, TokenBucket } from 'autonomy-os/internal';

describe('TokenBucket', () => {
  test('token bucket - starts full: burst takes succeed, the next fails and takes nothing', () => {
    const b = new TokenBucket(10, 3, 1_000);
    expect(b.available(1_000)).toBe(3);
    expect([b.take(1_000), b.take(1_000), b.take(1_000)]).toEqual([true, true, true]);
    expect(b.take(1_000)).toBe(false);
    expect(b.take(1_000)).toBe(false);
    expect(b.available(1_000)).toBe(0);
  });

  test('token bucket - refills at perSecond: a fraction of a token is not a token', () => {
    const b = new TokenBucket(10, 3, 0); // one token per 100 ms
    for (let i = 0; i < 3; i++) b.take(0);
    expect(b.take(50)).toBe(false); // 0.5 token
    expect(b.available(99)).toBe(0);
    expect(b.take(100)).toBe(true); // 1.0 token
    expect(b.take(100)).toBe(false);
    expect(b.available(350)).toBe(2); // 2.5 tokens
    expect(b.take(350)).toBe(true);
    expect(b.take(350)).toBe(true);
    expect(b.take(350)).toBe(false); // 0.5 left
    expect(b.take(400)).toBe(true); // 0.5 + 0.5
  });

  test('token bucket - refill stops at burst however long it was idle', () => {
    const b = new TokenBucket(1_000, 5, 0);
    for (let i = 0; i < 5; i++) expect(b.take(0)).toBe(true);
    expect(b.available(3_600_000)).toBe(5);
    for (let i = 0; i < 5; i++) expect(b.take(3_600_000)).toBe(true);
    expect(b.take(3_600_000)).toBe(false);
  });

  test('token bucket - a slow rate (below one per second) refills over seconds', () => {
    const b = new TokenBucket(0.5, 1, 0);
    expect(b.take(0)).toBe(true);
    expect(b.take(1_999)).toBe(false);
    expect(b.take(2_000)).toBe(true);
  });

  test('token bucket - a time earlier than the last one refills nothing and takes what is there', () => {
    const b = new TokenBucket(10, 2, 1_000);
    expect(b.take(1_000)).toBe(true);
    expect(b.available(500)).toBe(1);
    expect(b.take(500)).toBe(true);
    expect(b.take(500)).toBe(false);
    // the clock comes back: it refills from the latest time seen, not from the earlier one
    expect(b.take(1_099)).toBe(false);
    expect(b.take(1_100)).toBe(true);
  });

  test('token bucket - a sustained rate equals perSecond over a long run', () => {
    const b = new TokenBucket(50, 10, 0);
    let taken = 0;
    for (let t = 0; t <= 10_000; t++) if (b.take(t)) taken++; // tries every ms for 10 s
    expect(taken).toBe(10 + 500);
  });
});

const counting = (over: Partial<BudgetDoc> = {}): BudgetDoc => ({ name: 'calls', limit: 3, counts: { action: 'call' }, onExhausted: 'deny', ...over });
const units = (over: Partial<BudgetDoc> = {}): BudgetDoc => ({ name: 'tokens', limit: 100, unit: 'tokens', onExhausted: 'deny', ...over });

describe('BudgetCounter', () => {
  test('budget - use spends up to the limit, then refuses and spends nothing', () => {
    const b = new BudgetCounter(counting(), 0);
    expect(b.spent(0)).toBe(0);
    expect(b.exhausted(0)).toBe(false);
    expect([b.use(0, 1), b.use(0, 1)]).toEqual([true, true]);
    expect(b.exhausted(0)).toBe(false);
    expect(b.use(0, 1)).toBe(true);
    expect(b.exhausted(0)).toBe(true);
    expect(b.use(0, 1)).toBe(false);
    expect(b.spent(0)).toBe(3);
  });

  test('budget - a use that would pass the limit is refused whole', () => {
    const b = new BudgetCounter(units(), 0);
    expect(b.use(0, 60)).toBe(true);
    expect(b.use(0, 50)).toBe(false);
    expect(b.spent(0)).toBe(60);
    expect(b.use(0, 40)).toBe(true);
    expect(b.exhausted(0)).toBe(true);
  });

  test('budget - add counts work already done, past the limit', () => {
    const b = new BudgetCounter(units(), 0);
    b.add(0, 70);
    expect(b.exhausted(0)).toBe(false);
    b.add(0, 70);
    expect(b.spent(0)).toBe(140);
    expect(b.exhausted(0)).toBe(true);
    expect(b.use(0, 1)).toBe(false);
  });

  test('budget - without windowMs it never refills', () => {
    const b = new BudgetCounter(counting({ limit: 1 }), 0);
    expect(b.use(0, 1)).toBe(true);
    expect(b.exhausted(1e12)).toBe(true);
    expect(b.use(1e12, 1)).toBe(false);
  });

  test('budget - a window refills at its end, not before', () => {
    const b = new BudgetCounter(counting({ limit: 2, windowMs: 1_000 }), 0);
    expect(b.use(0, 1) && b.use(10, 1)).toBe(true);
    expect(b.use(999, 1)).toBe(false);
    expect(b.exhausted(999)).toBe(true);
    expect(b.exhausted(1_000)).toBe(false);
    expect(b.spent(1_000)).toBe(0);
    expect(b.use(1_000, 1)).toBe(true);
  });

  test('budget - windows stay aligned to the start: a late action rolls into the window it falls in', () => {
    const b = new BudgetCounter(counting({ limit: 1, windowMs: 1_000 }), 500);
    expect(b.use(500, 1)).toBe(true);
    // windows are [500, 1500), [1500, 2500), [2500, 3500) ...
    expect(b.use(2_700, 1)).toBe(true); // rolls to the window starting at 2500
    expect(b.use(3_499, 1)).toBe(false);
    expect(b.use(3_500, 1)).toBe(true);
  });

  test('budget - reported units roll with the window too', () => {
    const b = new BudgetCounter(units({ windowMs: 60_000 }), 0);
    b.add(1_000, 150);
    expect(b.exhausted(59_999)).toBe(true);
    expect(b.exhausted(60_000)).toBe(false);
    b.add(60_001, 30);
    expect(b.spent(60_002)).toBe(30);
  });
});
