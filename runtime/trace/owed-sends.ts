// Sends to an actor of the same node whose `sent` record is still owed. A message that stays on
// its node is recorded once, with its handling (one `handled` row that carries `sentUs`), where
// it took two rows before: half the trace of a local ask. A message that ends any other way
// (dead-lettered, failed, retried) has its `sent` written on its own first; one still waiting
// when the node goes idle or shuts down, or for longer than OWED_MAX_MS, is written then.

import type { Delivery } from '../actor-cell.js';

/** The longest a `sent` record waits for its message's handling while the node stays busy. */
export const OWED_MAX_MS = 1_000;

export class OwedSends {
  /** In the order sent (so in `env.sentAt` order); settled ones are skipped as the head passes. */
  private queue: (Delivery | undefined)[] = [];
  private head = 0;

  push(d: Delivery): void {
    this.queue.push(d);
  }

  /** Forgets the settled deliveries at the head (mostly all of them: messages are handled about in the order sent), so none is kept alive past its handling. */
  trim(): void {
    const q = this.queue;
    while (this.head < q.length && q[this.head]!.sentBy === undefined) q[this.head++] = undefined;
    if (this.head === q.length) {
      this.queue.length = 0;
      this.head = 0;
    }
  }

  /** Hands `pay` every delivery still owed that was sent before `sentBefore` (oldest first), and forgets settled ones. */
  settle(sentBefore: number, pay: (d: Delivery) => void): void {
    const q = this.queue;
    while (this.head < q.length) {
      const d = q[this.head]!;
      if (d.sentBy !== undefined) {
        if (d.env.sentAt >= sentBefore) break;
        pay(d);
      }
      q[this.head++] = undefined;
    }
    if (this.head === q.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }

  get size(): number {
    return this.queue.length - this.head;
  }
}
