// The stateful limits of one actor: a token bucket for its rate and a counter per budget.
// Pure functions of an injected time (ms), so tests drive them without waiting.

import type { BudgetDoc } from './policy-schema.js';

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
    }
  }

  /** Whole tokens available now. */
  available(now: number): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /** Takes one token; false (and nothing taken) when the bucket is empty. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class BudgetCounter {
  private used = 0;
  private windowStart: number;

  constructor(
    readonly doc: BudgetDoc,
    now: number,
  ) {
    this.windowStart = now;
  }

  private roll(now: number): void {
    const w = this.doc.windowMs;
    if (w !== undefined && now - this.windowStart >= w) {
      this.windowStart += Math.floor((now - this.windowStart) / w) * w;
      this.used = 0;
    }
  }

  spent(now: number): number {
    this.roll(now);
    return this.used;
  }

  /** True when nothing is left. */
  exhausted(now: number): boolean {
    return this.spent(now) >= this.doc.limit;
  }

  /** Uses `amount`; false (and nothing used) when that would pass the limit. */
  use(now: number, amount: number): boolean {
    this.roll(now);
    if (this.used + amount > this.doc.limit) return false;
    this.used += amount;
    return true;
  }

  /** Adds reported units (the work was already done: always counted, may pass the limit). */
  add(now: number, amount: number): void {
    this.roll(now);
    this.used += amount;
  }
}
