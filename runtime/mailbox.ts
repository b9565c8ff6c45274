// One actor's mailbox: a bounded FIFO. When full, the overflow policy decides which message
// is refused; the refused one is returned to the caller, which answers or dead-letters it,
// so nothing leaves a mailbox silently.

import { aosError } from './errors/aos-error.js';

/** `reject`: the new message is refused. `drop-oldest`: the oldest queued one is evicted. */
export type OverflowPolicy = 'reject' | 'drop-oldest';

export const DEFAULT_MAILBOX_CAPACITY = 4096;

export type Offer<T> = { accepted: true; evicted?: T } | { accepted: false; rejected: T };

export class Mailbox<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(
    readonly capacity: number = DEFAULT_MAILBOX_CAPACITY,
    readonly overflow: OverflowPolicy = 'reject',
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw aosError('ERR_CONFIG', `mailbox capacity must be a positive integer, got ${capacity}`, { capacity });
    }
    this.items = new Array<T | undefined>(Math.min(capacity, 64));
  }

  get size(): number {
    return this.count;
  }

  /** Adds at the back, applying the overflow policy when full. */
  offer(item: T): Offer<T> {
    if (this.count < this.capacity) {
      this.push(item);
      return { accepted: true };
    }
    if (this.overflow === 'reject') return { accepted: false, rejected: item };
    const evicted = this.shift()!;
    this.push(item);
    return { accepted: true, evicted };
  }

  /** Puts items back at the front, in order (messages a failed turn did not reach). May exceed capacity briefly: they were already accepted. */
  unshiftAll(items: readonly T[]): void {
    for (let i = items.length - 1; i >= 0; i--) {
      this.grow();
      this.head = (this.head - 1 + this.items.length) % this.items.length;
      this.items[this.head] = items[i];
      this.count++;
    }
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return item;
  }

  /** Removes and returns up to `max` items from the front. */
  take(max: number): T[] {
    const n = Math.min(max, this.count);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) out[i] = this.shift()!;
    return out;
  }

  /** Removes and returns everything. */
  drain(): T[] {
    return this.take(this.count);
  }

  private push(item: T): void {
    this.grow();
    this.items[(this.head + this.count) % this.items.length] = item;
    this.count++;
  }

  private grow(): void {
    if (this.count < this.items.length) return;
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }
}
