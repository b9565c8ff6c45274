// Many short deadlines (one per pending ask) on few timers: deadlines are grouped in
// buckets of `resolutionMs`, one clock timer per bucket, so arming and cancelling are O(1)
// and cost no timer of their own. A deadline fires up to `resolutionMs` late, never early.

import type { Clock, TimerHandle } from './clock.js';

export interface DeadlineHandle {
  cancel(): void;
}

export class Deadlines {
  private readonly buckets = new Map<number, { timer: TimerHandle; fns: Set<() => void> }>();

  constructor(
    private readonly clock: Clock,
    private readonly resolutionMs = 10,
  ) {}

  after(ms: number, fn: () => void): DeadlineHandle {
    const slot = Math.ceil((this.clock.now() + ms) / this.resolutionMs);
    let bucket = this.buckets.get(slot);
    if (bucket === undefined) {
      const fns = new Set<() => void>();
      const timer = this.clock.setTimeout(() => {
        this.buckets.delete(slot);
        for (const f of fns) f();
      }, slot * this.resolutionMs - this.clock.now());
      bucket = { timer, fns };
      this.buckets.set(slot, bucket);
    }
    const entry = () => fn();
    bucket.fns.add(entry);
    const b = bucket;
    return {
      cancel: () => {
        b.fns.delete(entry);
        if (b.fns.size === 0 && this.buckets.get(slot) === b) {
          this.clock.clearTimeout(b.timer);
          this.buckets.delete(slot);
        }
      },
    };
  }

  /** Cancels everything (shutdown). */
  clear(): void {
    for (const b of this.buckets.values()) this.clock.clearTimeout(b.timer);
    this.buckets.clear();
  }
}
