// A bounded memory of recently seen ids, so a node notices a sealed envelope captured on the
// wire and sent again (a replay). Oldest ids are forgotten first; the bound keeps memory flat.

export const DEFAULT_RECENT_IDS = 65_536;

export class RecentIds {
  private readonly seen = new Set<string>();
  private readonly order: string[];
  private next = 0;

  constructor(readonly capacity = DEFAULT_RECENT_IDS) {
    this.order = new Array<string>(capacity);
  }

  /** Remembers `id`; false when it was already remembered. */
  add(id: string): boolean {
    if (this.seen.has(id)) return false;
    const old = this.order[this.next];
    if (old !== undefined) this.seen.delete(old);
    this.order[this.next] = id;
    this.next = (this.next + 1) % this.capacity;
    this.seen.add(id);
    return true;
  }
}
