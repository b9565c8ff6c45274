// Removing settled items from the approval queue, when the policy says how long to keep them
// (`approvalRetention.keepSettledMs`). Every node keeps an index of the settled items it has
// seen (id and when each settled: a few dozen bytes an item), fed by the bucket's watch; its
// sweep purges those settled longer ago than that, each with compare-and-set on the item's
// revision, so an item that changed meanwhile is looked at again and two nodes sweeping at once
// purge it once. Open items (pending, approved, executing, open) are never removed. The trace
// keeps every request and decision: the queue is the place to act, not the record.

import type { Logger } from 'pino';
import { toAosError } from '../errors/aos-error.js';
import type { ApprovalStore } from './approval-store.js';
import { OPEN_STATUSES, type ApprovalItem } from './approval-types.js';

/** When an item settled: its last history entry. */
function settledAt(item: ApprovalItem): number {
  return item.history[item.history.length - 1]?.at ?? item.createdAt;
}

export class SettledItems {
  /** Settled items by id: when each settled. */
  private readonly index = new Map<string, number>();
  private sweeping = false;

  /** An item as the watch (or this node) saw it. */
  observe(item: ApprovalItem): void {
    if (OPEN_STATUSES.includes(item.status)) this.index.delete(item.id);
    else this.index.set(item.id, settledAt(item));
  }

  /**
   * Purges the items settled at or before `now - keepMs`; resolves with how many it purged. One
   * sweep at a time: a sweep still running when the next is due is not doubled.
   */
  async sweep(store: ApprovalStore, now: number, keepMs: number, log: Logger): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    const before = now - keepMs;
    let purged = 0;
    try {
      for (const [id, at] of [...this.index]) {
        if (at > before) continue;
        try {
          const r = await store.purgeIf(id, (i) => !OPEN_STATUSES.includes(i.status) && settledAt(i) <= before);
          if (r !== 'kept') this.index.delete(id);
          if (r === 'purged') purged++;
        } catch (err) {
          log.error({ approval: id, err: toAosError(err).toWire() }, 'a settled approval could not be removed from the queue; tried again at the next sweep');
        }
      }
    } finally {
      this.sweeping = false;
    }
    if (purged > 0) log.info({ purged, keepSettledMs: keepMs }, 'settled approvals removed from the queue (the policy\'s approvalRetention)');
    return purged;
  }
}
