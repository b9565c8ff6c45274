// Sends to an actor of the same node whose `sent` record is still owed. A message that stays on
// its node is recorded once, with its handling (one `handled` row that carries `sentUs`), where
// it took two rows before: half the trace of a local ask. A message that ends any other way
// (dead-lettered, failed, retried) has its `sent` written on its own first; one still waiting
// when the node goes idle or shuts down, or for longer than OWED_MAX_MS, is written then.

import type { Delivery } from '../actor-cell.js';

/** The longest a `sent` record waits for its message's handling while the node stays busy. */
export const OWED_MAX_MS = 1_000;

const FIRST_SIZE = 1024;

export class OwedSends {
  /**
   * A ring, in the order sent (so in `env.sentAt` order): `size` deliveries from `head`. Settled
   * ones are skipped as the head passes. A ring, because under load the head never catches up
   * with the tail: a growing array was copied again and again (garbage on the kernel thread).
   */
  private ring: (Delivery | undefined)[] = new Array<Delivery | undefined>(FIRST_SIZE).fill(undefined);
  private head = 0;
  private count = 0;

  push(d: Delivery): void {
    if (this.count === this.ring.length) this.grow();
    this.ring[(this.head + this.count) & (this.ring.length - 1)] = d;
    this.count += 1;
  }

  private grow(): void {
    const bigger = new Array<Delivery | undefined>(this.ring.length * 2).fill(undefined);
    for (let i = 0; i < this.count; i++) bigger[i] = this.ring[(this.head + i) & (this.ring.length - 1)];
    this.ring = bigger;
    this.head = 0;
  }

  /** Takes the head off. */
  private shift(): void {
    this.ring[this.head] = undefined;
    this.head = (this.head + 1) & (this.ring.length - 1);
    this.count -= 1;
  }

  /** Forgets the settled deliveries at the head (mostly all of them: messages are handled about in the order sent), so none is kept alive past its handling. */
  trim(): void {
    while (this.count > 0 && this.ring[this.head]!.sentBy === undefined) this.shift();
  }

  /** Hands `pay` every delivery still owed that was sent before `sentBefore` (oldest first), and forgets settled ones. */
  settle(sentBefore: number, pay: (d: Delivery) => void): void {
    while (this.count > 0) {
      const d = this.ring[this.head]!;
      if (d.sentBy !== undefined) {
        if (d.env.sentAt >= sentBefore) break;
        pay(d);
      }
      this.shift();
    }
    // A burst is over: its memory goes.
    if (this.count === 0 && this.ring.length > 16 * FIRST_SIZE) {
      this.ring = new Array<Delivery | undefined>(FIRST_SIZE).fill(undefined);
      this.head = 0;
    }
  }

  get size(): number {
    return this.count;
  }
}
