// The runtime's trace, as a test sees it: a raw subscriber on `<ns>.trace.>` that collects every
// record of every node (decision records and governance events), with a latch that resolves on
// the first record matching a predicate (already seen or still to come), so tests wait on events.

import type { NatsConnection, Subscription } from 'nats';
import type { DecisionRecord } from 'autonomy-os';
import { decodeTraceBatch, type DecodedBatch } from 'autonomy-os/internal';
import { deferred, DEFAULT_DEADLINE_MS } from './deferred.js';

/** `{type:'policy'}`: a node applied or refused a policy from the store. */
export interface PolicyEvent {
  type: 'policy';
  outcome: 'applied' | 'refused';
  node: string;
  at: number;
  revision: number;
  version?: string;
  before?: string;
  inForce?: string;
  origin?: string;
  error?: { code: string; message: string; details?: Record<string, unknown> };
}

/** `{type:'suspension'}`: an actor of a node was suspended or resumed. */
export interface SuspensionEvent {
  type: 'suspension';
  node: string;
  at: number;
  actor: string;
  suspended: boolean;
  target?: string;
  by?: string;
  reason?: string | null;
}

export type TraceRecord = DecisionRecord | PolicyEvent | SuspensionEvent;

interface Waiter {
  predicate: (r: TraceRecord) => boolean;
  resolve: (r: TraceRecord) => void;
}


export class TraceLog {
  /** Every record, in the order it arrived (per node, the order the node made them). */
  readonly records: TraceRecord[] = [];
  private waiters: Waiter[] = [];
  private readonly batches = new Set<string>();
  private readonly sub: Subscription;

  private constructor(nc: NatsConnection, namespace: string) {
    this.sub = nc.subscribe(`${namespace}.trace.>`, {
      callback: (err, msg) => {
        if (err !== null) return;
        let batch: DecodedBatch;
        try {
          batch = decodeTraceBatch(msg.data);
        } catch {
          return; // not a trace batch (a test's marker message on a trace subject)
        }
        // A batch no tracer acknowledged is sent again: each counts once.
        const key = `${batch.node} ${batch.batch}`;
        if (this.batches.has(key)) return;
        this.batches.add(key);
        for (const r of batch.records) this.add(r as TraceRecord);
      },
    });
  }

  /** Subscribes (before the namespace's nodes start) and makes sure the server has the interest. */
  static async start(nc: NatsConnection, namespace: string): Promise<TraceLog> {
    const log = new TraceLog(nc, namespace);
    await nc.flush();
    return log;
  }

  stop(): void {
    this.sub.unsubscribe();
  }

  private add(r: TraceRecord): void {
    this.records.push(r);
    this.waiters = this.waiters.filter((w) => {
      if (!w.predicate(r)) return true;
      w.resolve(r);
      return false;
    });
  }

  /** Decision records matching every field given. */
  decisions(match: Partial<DecisionRecord> = {}): DecisionRecord[] {
    return this.records.filter((r): r is DecisionRecord => r.type === 'decision' && matches(r, match));
  }

  policyEvents(match: Partial<PolicyEvent> = {}): PolicyEvent[] {
    return this.records.filter((r): r is PolicyEvent => r.type === 'policy' && matches(r, match));
  }

  suspensionEvents(match: Partial<SuspensionEvent> = {}): SuspensionEvent[] {
    return this.records.filter((r): r is SuspensionEvent => r.type === 'suspension' && matches(r, match));
  }

  /** The first record (seen or to come) for which `predicate` holds; rejects after the deadline. */
  waitFor<T extends TraceRecord = TraceRecord>(predicate: (r: TraceRecord) => boolean, ms = DEFAULT_DEADLINE_MS, what = 'trace record'): Promise<T> {
    const seen = this.records.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen as T);
    const d = deferred<TraceRecord>();
    this.waiters.push({ predicate, resolve: (r) => d.resolve(r) });
    return d.wait(ms, what) as Promise<T>;
  }

  /** The first decision record matching every field given. */
  decision(match: Partial<DecisionRecord>, ms?: number): Promise<DecisionRecord> {
    return this.waitFor<DecisionRecord>((r) => r.type === 'decision' && matches(r, match), ms, `decision ${JSON.stringify(match)}`);
  }

  policyEvent(match: Partial<PolicyEvent>, ms?: number): Promise<PolicyEvent> {
    return this.waitFor<PolicyEvent>((r) => r.type === 'policy' && matches(r, match), ms, `policy event ${JSON.stringify(match)}`);
  }

  suspensionEvent(match: Partial<SuspensionEvent>, ms?: number): Promise<SuspensionEvent> {
    return this.waitFor<SuspensionEvent>((r) => r.type === 'suspension' && matches(r, match), ms, `suspension event ${JSON.stringify(match)}`);
  }
}

function matches(r: object, match: object): boolean {
  for (const [k, v] of Object.entries(match)) if ((r as Record<string, unknown>)[k] !== v) return false;
  return true;
}
