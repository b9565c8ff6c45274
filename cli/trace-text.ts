// The trace as text for people: one line per record (`aos trace tail`), one chain of work as an
// indented causal tree with times from its start (`aos trace show`), and the per-actor table
// (`aos trace stats`). Pure: records in, text out.

import type { DecisionRecord } from '../runtime/broker/broker.js';
import type { EnvelopeRecord, GovernanceRecord, TraceRecord } from '../runtime/trace/records.js';
import type { ActorStats, CausalNode, CausalTree, TreeEvent } from '../runtime/trace/trace-query.js';
import { table } from './output.js';
import { ms } from './trace-sequence.js';

/** A denial, or an envelope event that ended in an error (what `--denied` keeps). */
export function isDenied(r: TraceRecord): boolean {
  if (r.type === 'decision') return !r.allow;
  return r.type === 'envelope' && r.outcome !== undefined && r.outcome !== 'ok';
}

// ---- tail ----------------------------------------------------------------------------

/** `10:42:01.120  n1  triage/t1  received  task from external/web on aos.task.tickets, 128 B  msg … chain 4bf92f35` */
export function tailLine(r: TraceRecord): string {
  const head = `${clock(r.at)}  ${r.node.padEnd(10)}`;
  if (r.type === 'envelope') return `${head}  ${r.actor.padEnd(20)}  ${r.event.padEnd(13)}  ${envelopeDetail(r)}  msg ${r.id} chain ${short(r.correlationId)}`;
  if (r.type === 'decision') {
    const why = `${r.reason === undefined ? '' : `${r.reason}; `}rule ${r.rule}`;
    const chain = r.correlationId === undefined ? '' : `  chain ${short(r.correlationId)}`;
    return `${head}  ${r.actor.padEnd(20)}  ${(r.allow ? 'allowed' : 'DENIED').padEnd(13)}  ${r.action} ${r.target} (${why})${chain}`;
  }
  const g = r as GovernanceRecord;
  const what = typeof g['event'] === 'string' ? `${g.type} ${g['event']}` : typeof g['context'] === 'string' ? `${g.type} ${g['context']}` : g.type;
  const { type: _t, at: _a, node: _n, event: _e, context: _c, ...rest } = g;
  return `${head}  ${(actorOf(g) ?? '-').padEnd(20)}  ${what.padEnd(13)}  ${JSON.stringify(rest)}`;
}

function envelopeDetail(r: EnvelopeRecord): string {
  const size = `${r.size} B`;
  const on = r.subject === '' ? '' : ` on ${r.subject}`;
  switch (r.event) {
    case 'received':
    case 'turn.started':
      return `${r.kind} from ${r.from}${on}, ${size}`;
    case 'sent':
      return `${r.kind} to ${r.to}, ${size}`;
    case 'turn.finished':
      return r.outcome === undefined || r.outcome === 'ok' ? `ok in ${ms(r.durationMs ?? 0)}` : `${r.outcome} after ${ms(r.durationMs ?? 0)}`;
    case 'replied':
      return `${r.outcome ?? 'ok'} to ${r.from}`;
    case 'failed':
      return `${r.outcome ?? '?'} (attempt ${(r.attempt ?? 0) + 1})`;
    case 'retried':
      return `retry ${r.attempt ?? 1} after ${r.outcome ?? '?'}`;
    case 'dead-lettered':
      return `${r.outcome ?? '?'}, ${r.kind} from ${r.from}${on}`;
  }
}

// ---- show ----------------------------------------------------------------------------

interface Line {
  at: number;
  depth: number;
  text: string;
  /** Where it falls among lines of the same millisecond: a turn's end, then its failure, retry, dead letter, reply. */
  rank?: number;
}

/** Records are stamped by two clocks (whole ms for messages, fractions for turns): within one ms, the rank decides. */
function order(l: Line): number {
  return Math.floor(l.at) + (l.rank ?? 0) / 10;
}

const RANK: Partial<Record<TreeEvent['event'], number>> = { 'turn.finished': 1, failed: 2, retried: 4, 'dead-lettered': 5, replied: 6 };

/** The chain as an indented tree: a summary line, then each message under the one whose handling sent it. */
export function renderTree(correlationId: string, records: readonly TraceRecord[], tree: CausalTree): string {
  const t0 = records.reduce((m, r) => Math.min(m, r.at), Infinity);
  const t1 = records.reduce((m, r) => Math.max(m, r.at), -Infinity);
  const lines: Line[] = [];
  for (const root of tree.roots) lines.push(...nodeLines(root, 0));
  if (tree.unattached.length > 0) {
    lines.push({ at: Number.NaN, depth: 0, text: 'not linked to a message of this chain:' });
    for (const r of tree.unattached) lines.push({ at: r.at, depth: 1, text: otherLine(r) });
  }
  const width = Math.max(0, ...lines.map((l) => (Number.isNaN(l.at) ? 0 : rel(l.at - t0).length)));
  const body = lines.map((l) => `${(Number.isNaN(l.at) ? '' : rel(l.at - t0)).padStart(width)}  ${'  '.repeat(l.depth)}${l.text}`.trimEnd());
  return `${summary(correlationId, records, t0, t1)}\n${body.join('\n')}\n`;
}

function summary(correlationId: string, records: readonly TraceRecord[], t0: number, t1: number): string {
  const ids = new Set<string>();
  const actors = new Set<string>();
  let failures = 0;
  let denials = 0;
  let dead = 0;
  for (const r of records) {
    if (r.type === 'envelope') {
      ids.add(r.id);
      if (!r.actor.includes('.')) actors.add(r.actor);
      if (!r.from.includes('.')) actors.add(r.from);
      if (r.event === 'failed') failures++;
      if (r.event === 'dead-lettered') dead++;
    } else if (r.type === 'decision') {
      actors.add(r.actor);
      if (!r.allow) denials++;
    }
  }
  const counts = [count(ids.size, 'message'), count(actors.size, 'participant'), count(failures, 'failure'), count(denials, 'denial'), count(dead, 'dead letter')];
  return `chain ${correlationId}: ${counts.join(', ')}; ${ms(t1 - t0)} from ${new Date(t0).toISOString()}`;
}

function nodeLines(n: CausalNode, depth: number): Line[] {
  const receivers = n.handlers.map((h) => h.actor);
  const to = receivers.length > 0 ? receivers.join(', ') : `${n.to} (not received)`;
  const on = n.kind === 'task' || n.kind === 'event' ? ` on ${n.subject}` : '';
  const head: Line = { at: n.sentAt ?? n.firstAt, depth, text: `${n.kind} ${n.from} -> ${to}${on}, ${n.size} B  [msg ${n.id}]` };
  const inner: Line[][] = [];
  // A failed turn's line says how it failed: the failure's own line would repeat it.
  const failedTurns = new Set(n.events.filter((e) => e.event === 'turn.finished' && e.outcome !== undefined && e.outcome !== 'ok').map((e) => `${e.actor} ${e.attempt ?? 0} ${e.outcome}`));
  for (const e of n.events) {
    if (e.event === 'failed' && failedTurns.has(`${e.actor} ${e.attempt ?? 0} ${e.outcome}`)) continue;
    const text = eventText(e);
    if (text !== undefined) inner.push([{ at: e.at, depth: depth + 1, text, rank: RANK[e.event] ?? 0 }]);
  }
  for (const d of n.denials) inner.push([{ at: d.at, depth: depth + 1, text: denialText(d) }]);
  for (const r of n.restarts) inner.push([{ at: r.at, depth: depth + 1, text: otherLine(r), rank: 3 }]);
  for (const c of n.children) inner.push(nodeLines(c, depth + 1));
  inner.sort((a, b) => order(a[0]!) - order(b[0]!) || a[0]!.at - b[0]!.at);
  return [head, ...inner.flat()];
}

function eventText(e: TreeEvent): string | undefined {
  const code = e.outcome ?? '?';
  switch (e.event) {
    case 'turn.finished':
      return `${e.actor}: turn ${e.outcome === undefined || e.outcome === 'ok' ? `ok in ${ms(e.durationMs ?? 0)}` : `FAILED after ${ms(e.durationMs ?? 0)}: ${e.outcome}`}${(e.attempt ?? 0) > 0 ? ` (attempt ${(e.attempt ?? 0) + 1})` : ''}`;
    case 'replied':
      return `${e.actor}: replied ${e.outcome === undefined || e.outcome === 'ok' ? 'ok' : `with error ${e.outcome}`}`;
    case 'failed':
      return `${e.actor}: FAILED ${code}`;
    case 'retried':
      return `${e.actor}: retry ${e.attempt ?? 1} after ${code}`;
    case 'dead-lettered':
      return `${e.actor}: DEAD-LETTERED ${code}`;
    case 'received':
    case 'turn.started':
    case 'sent':
      return undefined; // the message's line says who sent it to whom; a turn's line, when it ran
  }
}

function denialText(d: DecisionRecord): string {
  if (d.reason === 'approval') return `HELD ${d.actor}: ${d.action} ${d.target} for a person (rule ${d.rule})`;
  return `DENIED ${d.actor}: ${d.action} ${d.target} (${d.reason === undefined ? '' : `${d.reason}; `}rule ${d.rule})`;
}

/** A supervision or other record, in a few words: `RESTART billing/b1 by support (ERR_HANDLER_FAILED)`. */
function otherLine(r: TraceRecord): string {
  if (r.type === 'decision') return denialText(r);
  if (r.type === 'envelope') return `${r.event} ${r.actor}`;
  const g = r as GovernanceRecord;
  if (g.type === 'approval') return approvalLine(g);
  const reason = g['reason'] as { code?: unknown } | undefined;
  const code = typeof reason === 'object' && reason !== null && typeof reason.code === 'string' ? ` (${reason.code})` : '';
  const by = typeof g['supervisor'] === 'string' ? ` by ${g['supervisor']}` : '';
  const what = g.type === 'supervision' ? String(g['context'] ?? g['event'] ?? 'supervision').toUpperCase() : `${g.type}${typeof g['event'] === 'string' ? ` ${g['event']}` : ''}`;
  return `${what} ${actorOf(g) ?? ''}${by}${code}`.replace(/ {2,}/g, ' ');
}

/** `APPROVAL decided 1f2e…: call payments.refund by alice (waited 4.2 s)`. */
function approvalLine(g: GovernanceRecord): string {
  const action = g['action'] as { kind?: string; target?: string } | undefined;
  const what = action === undefined ? String((g['escalation'] as { reason?: { code?: string } } | undefined)?.reason?.code ?? 'escalation') : `${action.kind} ${action.target}`;
  const by = typeof g['by'] === 'string' ? ` by ${g['by']}` : '';
  const waited = typeof g['waitedMs'] === 'number' ? ` (waited ${ms(g['waitedMs'])})` : '';
  return `APPROVAL ${String(g['event'])} ${String(g['id'])}: ${what}${by}, ${String(g['status'])}${waited}`;
}

// ---- stats ---------------------------------------------------------------------------

/** A table, one row per actor: turns, failures, denials, p50 and p99 turn time. */
export function renderStats(actors: readonly ActorStats[]): string {
  const rows = actors.map((a) => [a.actor, String(a.turns), String(a.failures), String(a.denials), a.p50Ms === null ? '-' : ms(a.p50Ms), a.p99Ms === null ? '-' : ms(a.p99Ms)]);
  const out = table([['ACTOR', 'TURNS', 'FAILURES', 'DENIALS', 'P50', 'P99'], ...rows]);
  return rows.length === 0 ? `${out}(no turns, failures or denials in the trace)\n` : out;
}

// ---- small words ---------------------------------------------------------------------

function rel(v: number): string {
  return `+${ms(v)}`;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function short(correlationId: string): string {
  return correlationId.slice(0, 8);
}

/** Local wall-clock time with milliseconds: tail is read as it happens. */
function clock(at: number): string {
  const d = new Date(at);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function actorOf(g: Record<string, unknown>): string | undefined {
  if (typeof g['actor'] === 'string') return g['actor'];
  const o = g['offender'];
  if (typeof o === 'object' && o !== null && typeof (o as Record<string, unknown>)['id'] === 'string') return (o as Record<string, string>)['id'];
  return undefined;
}
