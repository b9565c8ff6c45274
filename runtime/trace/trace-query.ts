// Questions asked of a trace log, as pure functions over its records: one chain of work and its
// causal tree (who sent what to whom, timings, denials, failures, restarts), the last records
// matching filters, and per-actor turn statistics. The tracer answers with these; so can the CLI on a file.

import { z } from 'zod';
import type { DecisionRecord } from '../broker/broker.js';
import { parseEntry } from './verify-log.js';
import type { EnvelopeEvent, EnvelopeRecord, GovernanceRecord, TraceRecord } from './records.js';
import { decodeTraceBatch } from './trace-codec.js';

/** What readers see after each batch of the log (made from its entry): which node's batch it was, and who appended it (gaps show loss). */
export interface BatchMark extends GovernanceRecord {
  type: 'trace';
  event: 'batch';
  batch: number;
  records: number;
  tracer: string;
}

export function isBatchMark(r: TraceRecord): r is BatchMark {
  return r.type === 'trace' && (r as GovernanceRecord)['event'] === 'batch';
}

/** The records of one log entry's line, each batch followed by its BatchMark; none for a checkpoint or a line that does not read. */
export function recordsOfEntry(line: string, out: TraceRecord[] = []): TraceRecord[] {
  const entry = parseEntry(line);
  if (typeof entry === 'string' || !('batch' in entry.body)) return out;
  let decoded;
  try {
    decoded = decodeTraceBatch(entry.body.batch);
  } catch {
    return out; // a batch that does not read (verifyLog names it)
  }
  for (const r of decoded.records) out.push(r);
  const mark: BatchMark = { type: 'trace', event: 'batch', at: entry.at, node: decoded.node, batch: decoded.batch, records: decoded.records.length, tracer: entry.body.tracer };
  out.push(mark);
  return out;
}

/** The records of a log's text (JSON lines of hash-chain.ts), checkpoints and unreadable lines left out. No verification: that is verifyLog's. */
export function recordsOfLog(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  for (const line of text.split('\n')) if (line !== '') recordsOfEntry(line, out);
  return out;
}

/** Every record of one chain of work, in time order (ties keep log order). */
export function chainOf(records: readonly TraceRecord[], correlationId: string): TraceRecord[] {
  return records.filter((r) => (r as { correlationId?: unknown }).correlationId === correlationId).sort((a, b) => a.at - b.at);
}

/** One event of a message, where it happened. */
export interface TreeEvent {
  event: EnvelopeEvent;
  at: number;
  actor: string;
  node: string;
  outcome?: string;
  durationMs?: number;
  attempt?: number;
}

/** What one receiver did with a message (an event reaches several). */
export interface Handling {
  actor: string;
  node: string;
  receivedAt: number | null;
  turns: number;
  /** Time in turns, every attempt. */
  durationMs: number;
  /** The last word: the last turn's outcome (`ok` or a code), a failure's code, `dead-lettered`; null while in flight. */
  outcome: string | null;
  /** The outcome of its reply, when it answered. */
  replied: string | null;
  failures: { at: number; code: string; attempt: number }[];
  retries: number;
  deadLettered: { at: number; code: string } | null;
}

/** A message of the chain and what it caused. */
export interface CausalNode {
  id: string;
  correlationId: string;
  causationId: string | null;
  kind: string;
  from: string;
  to: string;
  subject: string;
  size: number;
  /** When its sender sent it (null when the sender's node did not record it, e.g. an external client). */
  sentAt: number | null;
  /** Its first event. */
  firstAt: number;
  events: TreeEvent[];
  handlers: Handling[];
  /** `ok` when every receiver finished ok; else the first other outcome; null while in flight or never received. */
  outcome: string | null;
  /** Decisions that denied something about this message, or done while handling it. */
  denials: DecisionRecord[];
  /** Supervision events caused by this message (records whose `messageId` is its id). */
  restarts: GovernanceRecord[];
  children: CausalNode[];
}

export interface CausalTree {
  /** Messages whose cause is not among the records (the chain's entry points), in time order. */
  roots: CausalNode[];
  /** Denials and supervision events that name no message of the records. */
  unattached: TraceRecord[];
}

/** The causal tree of some records (usually one chain: chainOf's), linked by causationId -> id. */
export function buildCausalTree(records: readonly TraceRecord[]): CausalTree {
  const sorted = [...records].sort((a, b) => a.at - b.at);
  const nodes = new Map<string, CausalNode>();
  const pending: TraceRecord[] = [];
  for (const r of sorted) {
    if (r.type !== 'envelope') {
      pending.push(r);
      continue;
    }
    let n = nodes.get(r.id);
    if (n === undefined) {
      n = { id: r.id, correlationId: r.correlationId, causationId: r.causationId, kind: r.kind, from: r.from, to: r.to, subject: r.subject, size: r.size, sentAt: null, firstAt: r.at, events: [], handlers: [], outcome: null, denials: [], restarts: [], children: [] };
      nodes.set(r.id, n);
    }
    addEvent(n, r);
  }
  const unattached: TraceRecord[] = [];
  for (const r of pending) {
    const messageId = (r as { messageId?: unknown }).messageId;
    const n = typeof messageId === 'string' ? nodes.get(messageId) : undefined;
    const denial = r.type === 'decision' && !r.allow;
    if (!denial && r.type !== 'supervision' && r.type !== 'approval') continue;
    if (n === undefined) unattached.push(r);
    else if (denial) n.denials.push(r as DecisionRecord);
    else n.restarts.push(r as GovernanceRecord);
  }
  const parent = new Map<CausalNode, CausalNode>();
  const roots: CausalNode[] = [];
  for (const n of nodes.values()) {
    n.outcome = outcomeOf(n.handlers);
    const p = n.causationId === null ? undefined : nodes.get(n.causationId);
    if (p === undefined || reaches(p, n, parent)) roots.push(n);
    else {
      parent.set(n, p);
      p.children.push(n);
    }
  }
  return { roots, unattached };
}

function addEvent(n: CausalNode, r: EnvelopeRecord): void {
  const e: TreeEvent = { event: r.event, at: r.at, actor: r.actor, node: r.node };
  if (r.outcome !== undefined) e.outcome = r.outcome;
  if (r.durationMs !== undefined) e.durationMs = r.durationMs;
  if (r.attempt !== undefined) e.attempt = r.attempt;
  n.events.push(e);
  if (r.event === 'sent') {
    n.sentAt ??= r.at;
    return;
  }
  let h = n.handlers.find((x) => x.actor === r.actor);
  if (h === undefined) {
    h = { actor: r.actor, node: r.node, receivedAt: null, turns: 0, durationMs: 0, outcome: null, replied: null, failures: [], retries: 0, deadLettered: null };
    n.handlers.push(h);
  }
  switch (r.event) {
    case 'received':
      h.receivedAt ??= r.at;
      break;
    case 'turn.finished':
      h.turns += 1;
      h.durationMs += r.durationMs ?? 0;
      h.outcome = r.outcome ?? 'ok';
      break;
    case 'failed':
      h.failures.push({ at: r.at, code: r.outcome ?? 'ERR_INTERNAL', attempt: r.attempt ?? 0 });
      h.outcome = r.outcome ?? 'ERR_INTERNAL';
      break;
    case 'retried':
      h.retries += 1;
      h.outcome = null;
      break;
    case 'dead-lettered':
      h.deadLettered = { at: r.at, code: r.outcome ?? 'ERR_INTERNAL' };
      h.outcome = 'dead-lettered';
      break;
    case 'replied':
      h.replied = r.outcome ?? 'ok';
      break;
    case 'turn.started':
      break;
  }
}

function outcomeOf(handlers: readonly Handling[]): string | null {
  if (handlers.length === 0) return null;
  const other = handlers.find((h) => h.outcome !== null && h.outcome !== 'ok');
  if (other !== undefined) return other.outcome;
  return handlers.every((h) => h.outcome === 'ok') ? 'ok' : null;
}

/** Whether `to` is `from` or one of its ancestors: linking `to` under `from` would make a cycle. */
function reaches(from: CausalNode, to: CausalNode, parent: ReadonlyMap<CausalNode, CausalNode>): boolean {
  for (let n: CausalNode | undefined = from; n !== undefined; n = parent.get(n)) if (n === to) return true;
  return false;
}

/** The actor type of the tracer: a node's control plane hands trace queries to its local one. */
export const TRACER_TYPE = 'tracer';

export const DEFAULT_TAIL_LIMIT = 50;

export interface TailFilters {
  /** How many records at most (default 50): the last ones that match. */
  limit?: number;
  /** Records of this actor (where it happened: `actor` of the record). */
  actor?: string;
  /** A record type (`envelope`, `decision`, `supervision`...) or an envelope event (`turn.finished`, `dead-lettered`...). */
  type?: string;
  /** Only denials (decision records that did not allow). */
  denied?: boolean;
}

/** The last `limit` records that match every filter given, oldest first. The tracer's batch marks only when asked for by type. */
export function tail(records: readonly TraceRecord[], filters: TailFilters = {}): TraceRecord[] {
  const limit = filters.limit ?? DEFAULT_TAIL_LIMIT;
  const out: TraceRecord[] = [];
  for (let i = records.length - 1; i >= 0 && out.length < limit; i--) {
    const r = records[i]!;
    const event = (r as { event?: unknown }).event;
    if (filters.type === undefined ? isBatchMark(r) : r.type !== filters.type && event !== filters.type) continue;
    if (filters.actor !== undefined && (r as { actor?: unknown }).actor !== filters.actor) continue;
    if (filters.denied === true && !(r.type === 'decision' && !r.allow)) continue;
    out.push(r);
  }
  return out.reverse();
}

export interface ActorStats {
  actor: string;
  /** Turns finished (turn.finished records), whatever their outcome. */
  turns: number;
  /** Failed turns (failed records). */
  failures: number;
  /** Actions denied (decision records that did not allow). */
  denials: number;
  /** Turn time percentiles (nearest rank), null with no turns. */
  p50Ms: number | null;
  p99Ms: number | null;
}

/** Per actor, in actor order: turns, failures, denials and turn-time percentiles. */
export function stats(records: readonly TraceRecord[]): ActorStats[] {
  const tally = new StatsTally();
  for (const r of records) tally.add(r);
  return tally.result();
}

/** `stats`, a record at a time (a log read line by line keeps only these counts). */
export class StatsTally {
  private readonly by = new Map<string, { turns: number[]; failures: number; denials: number }>();

  private of(actor: string): { turns: number[]; failures: number; denials: number } {
    let s = this.by.get(actor);
    if (s === undefined) this.by.set(actor, (s = { turns: [], failures: 0, denials: 0 }));
    return s;
  }

  add(r: TraceRecord): void {
    if (r.type === 'envelope' && r.event === 'turn.finished') this.of(r.actor).turns.push(r.durationMs ?? 0);
    else if (r.type === 'envelope' && r.event === 'failed') this.of(r.actor).failures += 1;
    else if (r.type === 'decision' && !r.allow) this.of(r.actor).denials += 1;
  }

  result(): ActorStats[] {
    return [...this.by.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([actor, s]) => {
        const sorted = s.turns.sort((x, y) => x - y);
        return { actor, turns: sorted.length, failures: s.failures, denials: s.denials, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
      });
  }
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1]!;
}

/** A question for the tracer (`{op: 'query', query}` on its direct subject) or for a log file. */
export const traceQuerySchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('show'), correlationId: z.string().min(1) }),
  z.object({
    kind: z.literal('tail'),
    limit: z.number().int().positive().max(100_000).optional(),
    actor: z.string().min(1).optional(),
    type: z.string().min(1).optional(),
    denied: z.boolean().optional(),
  }),
  z.object({ kind: z.literal('stats') }),
]);
export type TraceQuery = z.infer<typeof traceQuerySchema>;

export type TraceAnswer =
  | { kind: 'show'; correlationId: string; records: TraceRecord[] }
  | { kind: 'tail'; records: TraceRecord[] }
  | { kind: 'stats'; actors: ActorStats[] };

/** The answer to a query over a log's records (show gives the chain's records: buildCausalTree makes the tree of them). */
export function answerQuery(records: readonly TraceRecord[], query: TraceQuery): TraceAnswer {
  switch (query.kind) {
    case 'show':
      return { kind: 'show', correlationId: query.correlationId, records: chainOf(records, query.correlationId) };
    case 'tail':
      return { kind: 'tail', records: tail(records, { limit: query.limit, actor: query.actor, type: query.type, denied: query.denied }) };
    case 'stats':
      return { kind: 'stats', actors: stats(records) };
  }
}
