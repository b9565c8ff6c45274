// The durable half of the approval queue: one JetStream KV bucket per namespace
// (`<ns>-approvals`), one JSON item per id. Every change is a compare-and-set on the item's
// revision, so of two nodes (or two people) acting at once exactly one wins; the loser sees
// the winner's item and decides again. Items outlive every node.

import type { KV, NatsConnection } from 'nats';
import { aosError } from '../errors/aos-error.js';
import type { ApprovalItem } from './approval-types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAX_TRIES = 20;
/** Items a list reads at once. */
const LIST_IN_FLIGHT = 64;

export function approvalsBucket(namespace: string): string {
  return `${namespace.replace(/[^A-Za-z0-9_-]/g, '_')}-approvals`;
}

export interface StoredItem {
  item: ApprovalItem;
  revision: number;
}

function parse(bytes: Uint8Array): ApprovalItem | undefined {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as ApprovalItem;
    return typeof v === 'object' && v !== null && typeof v.id === 'string' && Array.isArray(v.history) ? v : undefined;
  } catch {
    return undefined;
  }
}

export class ApprovalStore {
  private constructor(
    private readonly kv: KV,
    readonly bucket: string,
  ) {}

  /** Opens (or creates) the namespace's bucket; ERR_TRANSPORT when the server has no JetStream. */
  static async open(nc: NatsConnection, namespace: string): Promise<ApprovalStore> {
    const bucket = approvalsBucket(namespace);
    try {
      const kv = await nc.jetstream().views.kv(bucket, { history: 8 });
      return new ApprovalStore(kv, bucket);
    } catch (err) {
      throw aosError('ERR_TRANSPORT', `cannot open the approvals bucket ${bucket} (approvals need JetStream)`, { bucket }, err);
    }
  }

  async get(id: string): Promise<StoredItem | undefined> {
    if (!/^[0-9a-f]{16}$/.test(id)) return undefined;
    const e = await this.kv.get(id);
    if (e === null || e.operation !== 'PUT') return undefined;
    const item = parse(e.value);
    return item === undefined ? undefined : { item, revision: e.revision };
  }

  /** Stores a new item; false when the id is taken. */
  async create(item: ApprovalItem): Promise<boolean> {
    try {
      await this.kv.create(item.id, encoder.encode(JSON.stringify(item)));
      return true;
    } catch {
      return (await this.get(item.id)) === undefined ? Promise.reject(aosError('ERR_TRANSPORT', `could not store approval ${item.id}`, { id: item.id })) : false;
    }
  }

  /**
   * Changes an item with compare-and-set. `change` sees the latest item and returns the next one,
   * or undefined to leave it as it is (then the result has `changed: false`). Retries on a conflict.
   */
  async update(id: string, change: (item: ApprovalItem) => ApprovalItem | undefined): Promise<{ item: ApprovalItem; changed: boolean } | undefined> {
    for (let tries = 0; ; tries++) {
      const current = await this.get(id);
      if (current === undefined) return undefined;
      const next = change(structuredClone(current.item));
      if (next === undefined) return { item: current.item, changed: false };
      try {
        await this.kv.update(id, encoder.encode(JSON.stringify(next)), current.revision);
        return { item: next, changed: true };
      } catch (err) {
        if (tries >= MAX_TRIES) throw aosError('ERR_TRANSPORT', `could not update approval ${id} (too many concurrent writers)`, { id }, err);
      }
    }
  }

  /**
   * Purges an item (its history too) if `remove` holds for it as stored now, with compare-and-set
   * on its revision: `changed` when it was written meanwhile (look again), `gone` when it is not
   * there, `kept` when `remove` said no.
   */
  async purgeIf(id: string, remove: (item: ApprovalItem) => boolean): Promise<'purged' | 'kept' | 'gone' | 'changed'> {
    const current = await this.get(id);
    if (current === undefined) return 'gone';
    if (!remove(current.item)) return 'kept';
    try {
      await this.kv.purge(id, { previousSeq: current.revision });
      return 'purged';
    } catch (err) {
      const now = await this.get(id);
      if (now === undefined) return 'gone';
      if (now.revision !== current.revision) return 'changed';
      throw aosError('ERR_TRANSPORT', `could not remove approval ${id}`, { id }, err);
    }
  }

  async list(): Promise<ApprovalItem[]> {
    // Keys first: awaiting a get inside the keys iterator makes nats.js drop the keys not yet read.
    const keys: string[] = [];
    for await (const k of await this.kv.keys()) keys.push(k);
    // The gets go out LIST_IN_FLIGHT at a time, not one after another: a bucket of thousands of
    // items is read in round trips of that many.
    const items: ApprovalItem[] = [];
    let next = 0;
    const reader = async (): Promise<void> => {
      while (next < keys.length) {
        const s = await this.get(keys[next++]!);
        if (s !== undefined) items.push(s.item);
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIST_IN_FLIGHT, keys.length) }, reader));
    return items.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  /** Calls back with every item now in the bucket, then with every change, until `stop()`. */
  async watch(onItem: (item: ApprovalItem) => void): Promise<{ stop(): void }> {
    const iter = await this.kv.watch();
    void (async () => {
      for await (const e of iter) {
        if (e.operation !== 'PUT') continue;
        const item = parse(e.value);
        if (item !== undefined) onItem(item);
      }
    })().catch(() => undefined);
    return { stop: () => iter.stop() };
  }
}
