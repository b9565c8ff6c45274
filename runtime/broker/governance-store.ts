// Where every node of a namespace finds the policy in force, the suspensions, and the
// cluster key that seals envelopes: one JetStream KV bucket per namespace. A write is seen
// by every node's watch within milliseconds; the KV revision orders the changes.

import { randomBytes } from 'node:crypto';
import type { KV, NatsConnection } from 'nats';
import { aosError } from '../errors/aos-error.js';
import type { Suspension } from './broker.js';
import type { PolicyDoc } from './policy-schema.js';

export const POLICY_KEY = 'policy';
export const SUSPENSIONS_KEY = 'suspensions';
export const CLUSTER_KEY = 'cluster-key';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The KV bucket of a namespace (bucket names allow letters, digits, '-' and '_'). */
export function governanceBucket(namespace: string): string {
  return `${namespace.replace(/[^A-Za-z0-9_-]/g, '_')}-governance`;
}

export interface StoredPolicy {
  text: string;
  revision: number;
}

export interface GovernanceWatch {
  policy: (p: StoredPolicy) => void;
  suspensions: (list: Suspension[], revision: number) => void;
}

export class GovernanceStore {
  private constructor(
    private readonly kv: KV,
    readonly bucket: string,
  ) {}

  /** Opens (or creates) the namespace's bucket; undefined when the server has no JetStream. */
  static async open(nc: NatsConnection, namespace: string): Promise<GovernanceStore | undefined> {
    const bucket = governanceBucket(namespace);
    try {
      await nc.jetstreamManager({ timeout: 2_000 });
    } catch {
      return undefined;
    }
    try {
      const kv = await nc.jetstream().views.kv(bucket, { history: 16 });
      return new GovernanceStore(kv, bucket);
    } catch (err) {
      throw aosError('ERR_TRANSPORT', `cannot open the governance bucket ${bucket}`, { bucket }, err);
    }
  }

  async policy(): Promise<StoredPolicy | undefined> {
    const e = await this.kv.get(POLICY_KEY);
    if (e === null || e.operation !== 'PUT') return undefined;
    return { text: decoder.decode(e.value), revision: e.revision };
  }

  /** Stores a validated policy; every node applies it from its watch. Resolves to the revision. */
  putPolicy(doc: PolicyDoc): Promise<number> {
    return this.kv.put(POLICY_KEY, encoder.encode(JSON.stringify(doc)));
  }

  /** Stores a policy only if the store holds none yet (the first node's start-up policy). */
  async offerPolicy(doc: PolicyDoc): Promise<number | undefined> {
    try {
      return await this.kv.create(POLICY_KEY, encoder.encode(JSON.stringify(doc)));
    } catch {
      return undefined; // another node (or `aos policy apply`) stored one first: it wins
    }
  }

  async suspensions(): Promise<{ list: Suspension[]; revision: number }> {
    const e = await this.kv.get(SUSPENSIONS_KEY);
    if (e === null || e.operation !== 'PUT') return { list: [], revision: 0 };
    return { list: parseSuspensions(e.value), revision: e.revision };
  }

  /** Changes the suspension list with compare-and-set, retrying when another writer got there first. */
  async updateSuspensions(change: (list: Suspension[]) => Suspension[]): Promise<{ list: Suspension[]; revision: number }> {
    for (let tries = 0; ; tries++) {
      const current = await this.suspensions();
      const next = change(current.list);
      const bytes = encoder.encode(JSON.stringify(next));
      try {
        const revision = current.revision === 0 ? await this.kv.create(SUSPENSIONS_KEY, bytes) : await this.kv.update(SUSPENSIONS_KEY, bytes, current.revision);
        return { list: next, revision };
      } catch (err) {
        if (tries >= 10) throw aosError('ERR_TRANSPORT', 'could not update the suspensions (too many concurrent writers)', {}, err);
      }
    }
  }

  /** The key that seals envelopes between the nodes of this namespace: made by the first node, read by the others. */
  async clusterKey(): Promise<Uint8Array> {
    const existing = await this.kv.get(CLUSTER_KEY);
    if (existing !== null && existing.operation === 'PUT' && existing.value.length >= 16) return existing.value.slice();
    try {
      await this.kv.create(CLUSTER_KEY, randomBytes(32));
    } catch {
      // another node created it first
    }
    const e = await this.kv.get(CLUSTER_KEY);
    if (e === null) throw aosError('ERR_TRANSPORT', 'the cluster key could not be stored', { bucket: this.bucket });
    return e.value.slice();
  }

  /** Calls back with the current values, then with every change, until `stop()`. */
  async watch(w: GovernanceWatch): Promise<{ stop(): void }> {
    // Every key of the bucket (several keys in one watch needs nats-server 2.10; Debian 12 ships 2.9).
    const iter = await this.kv.watch();
    void (async () => {
      for await (const e of iter) {
        if (e.key === POLICY_KEY && e.operation === 'PUT') w.policy({ text: decoder.decode(e.value), revision: e.revision });
        if (e.key === SUSPENSIONS_KEY) w.suspensions(e.operation === 'PUT' ? parseSuspensions(e.value) : [], e.revision);
      }
    })();
    return { stop: () => iter.stop() };
  }
}

function parseSuspensions(bytes: Uint8Array): Suspension[] {
  try {
    const v = JSON.parse(decoder.decode(bytes)) as unknown;
    if (!Array.isArray(v)) return [];
    return v.filter((s): s is Suspension => typeof s === 'object' && s !== null && typeof (s as Suspension).target === 'string');
  } catch {
    return [];
  }
}
