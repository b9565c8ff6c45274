// One chain of work as a sequence diagram's model: the lifelines (actors and outside clients, in
// order of appearance) and the steps (messages, replies, turns, denials, failures, retries, dead
// letters, restarts), one row each, in time order that never breaks causality. Pure: records in, model out.

import type { DecisionRecord } from '../runtime/broker/broker.js';
import type { EnvelopeRecord, TraceRecord } from '../runtime/trace/records.js';

export interface Lifeline {
  id: string;
  /** `client` for `external…`, `runtime` for `system/<node>`, else `actor`. */
  role: 'actor' | 'client' | 'runtime';
  /** The node it ran on, when the trace says. */
  node?: string;
}

interface StepBase {
  /** Its row in the diagram (0-based). */
  row: number;
  at: number;
}

/** A message on the wire: one arrow per receiver (an event fans out); `to` is null when nobody received it and its target is no actor. */
export interface MessageStep extends StepBase {
  kind: 'message';
  id: string;
  msgKind: string;
  from: string;
  to: string | null;
  subject: string;
  size: number;
  reply: boolean;
  /** A reply's outcome (`ok` or an error code). */
  outcome?: string;
  /** Sent, but no receiver in the trace. */
  undelivered: boolean;
}

export interface TurnStep extends StepBase {
  kind: 'turn';
  id: string;
  actor: string;
  /** The row of its end (`row` is its start). */
  endRow: number;
  durationMs: number | null;
  outcome: string | null;
  attempt: number;
}

export interface DenialStep extends StepBase {
  kind: 'denial';
  actor: string;
  action: string;
  target: string;
  /** The lifeline of the target, when it is one of the chain's actors. */
  toLifeline: string | null;
  rule: string;
  reason: string | null;
}

export type MarkKind = 'failed' | 'retried' | 'dead-lettered' | 'restart';

export interface MarkStep extends StepBase {
  kind: 'mark';
  mark: MarkKind;
  actor: string;
  id: string | null;
  /** The error code of a failure, retry (the failure before it) or dead letter, or a restart's reason. */
  code: string | null;
  /** A retry's attempt (1 for the second try). */
  attempt: number | null;
  /** The supervisor that restarted the actor. */
  by: string | null;
  /** Where a dead letter was going, when no actor took it (a task's subject). */
  target: string | null;
  /** A failure drawn on the end of the turn that failed (same row): the turn says the rest. */
  onTurnEnd: boolean;
}

export type Step = MessageStep | TurnStep | DenialStep | MarkStep;

export interface Sequence {
  lifelines: Lifeline[];
  steps: Step[];
  rows: number;
  /** The first and last record's time (0 and 0 for no records). */
  start: number;
  end: number;
}

/** 0.4ms, 12ms, 1.25s, 2m05s: short, and exact enough to compare turns. */
export function ms(v: number): string {
  if (v < 10) return `${Number(v.toFixed(1))}ms`;
  if (v < 1_000) return `${Math.round(v)}ms`;
  if (v < 60_000) return `${Number((v / 1_000).toFixed(2))}s`;
  const s = Math.round(v / 1_000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `ns.actor.type.key` -> `type/key`: a tell's or ask's subject as the AgentId it reaches. */
export function actorOfSubject(subject: string): string | null {
  const m = /^[^.]+\.actor\.([^.]+)\.([^.]+)$/.exec(subject);
  return m === null ? null : `${m[1]}/${m[2]}`;
}

/** AgentIds, `external`, `external/<client>` and `system/<node>` have no dots; subjects do. */
function isParticipant(id: string): boolean {
  return id !== '' && !id.includes('.');
}

function roleOf(id: string): Lifeline['role'] {
  if (id === 'external' || id.startsWith('external/')) return 'client';
  return id.startsWith('system/') ? 'runtime' : 'actor';
}

/** Order of steps within one millisecond, where causality does not decide. */
const PRIO = { arrive: 0, start: 1, inside: 2, reply: 3, finish: 4, failed: 5, restart: 6, retried: 7, dead: 8 } as const;

type Drawn = Omit<MessageStep, 'row'> | Omit<DenialStep, 'row'> | Omit<MarkStep, 'row'>;

/** A step before it has a row; `after` names the items that must be drawn above it. */
type Item = { key: [number, number, number]; after: number[] } & (
  | { tag: 'step'; step: Drawn }
  | { tag: 'start'; turn: Turn }
  | { tag: 'finish'; turn: Turn }
);

interface Turn {
  id: string;
  actor: string;
  attempt: number;
  startAt: number;
  endAt: number;
  durationMs: number | null;
  outcome: string | null;
  start?: number;
  finish?: number;
}

export function buildSequence(records: readonly TraceRecord[]): Sequence {
  const recs = records.map((r, i) => ({ r, i })).sort((a, b) => a.r.at - b.r.at || a.i - b.i);
  const envs = recs.map(({ r }) => r).filter((r): r is EnvelopeRecord => r.type === 'envelope');
  const envIndex = new Map(envs.map((r, i) => [r, i]));
  const lifelines = collectLifelines(recs.map(({ r }) => r));
  const items: Item[] = [];
  const add = (item: Item): number => items.push(item) - 1;

  // Arrows: one per (message, receiver), drawn when it was sent (or received, from outside).
  const arrows = new Map<string, number>(); // `${id} ${receiver}` -> item
  const arrowsOf = new Map<string, number[]>();
  const byId = new Map<string, EnvelopeRecord[]>();
  for (const r of envs) if (r.event === 'sent' || r.event === 'received') byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  for (const [id, rs] of byId) {
    const sent = rs.find((r) => r.event === 'sent');
    const receivers = [...new Map(rs.filter((r) => r.event === 'received').map((r) => [r.actor, r])).values()];
    const base = sent ?? receivers[0]!;
    const target = actorOfSubject(base.to) ?? base.to;
    const tos = receivers.length > 0 ? receivers.map((r) => r.actor) : [lifelines.has(target) ? target : null];
    tos.forEach((to, n) => {
      const at = sent?.at ?? receivers[n]!.at;
      const step: Drawn = { kind: 'message', at, id, msgKind: base.kind, from: sent?.actor ?? base.from, to, subject: base.subject, size: base.size, reply: false, undelivered: receivers.length === 0 };
      const h = add({ tag: 'step', step, key: [at, sent === undefined ? PRIO.arrive : PRIO.inside, envIndex.get(base)!], after: [] });
      if (to !== null) arrows.set(`${id} ${to}`, h);
      arrowsOf.set(id, [...(arrowsOf.get(id) ?? []), h]);
    });
  }

  // Turns: started and finished paired by (message, actor, attempt); a retry's turn comes after the one before.
  const turns = new Map<string, Turn[]>(); // `${id} ${actor}` -> its turns, in time order
  const open = new Map<string, Turn>(); // `${id} ${actor} ${attempt}` -> a turn started, not yet finished
  const newTurn = (r: EnvelopeRecord, startAt: number): { turn: Turn; after: number[] } => {
    const key = `${r.id} ${r.actor}`;
    const list = turns.get(key) ?? [];
    const before = list[list.length - 1];
    const turn: Turn = { id: r.id, actor: r.actor, attempt: r.attempt ?? 0, startAt, endAt: r.at, durationMs: null, outcome: null };
    list.push(turn);
    turns.set(key, list);
    const arrow = arrows.get(key);
    const prior = before?.finish ?? before?.start;
    return { turn, after: [...(arrow === undefined ? [] : [arrow]), ...(prior === undefined ? [] : [prior])] };
  };
  // A start before its finish even when both fall in one millisecond and the log has them the other way round.
  const startsFirst = envs.map((r, i) => ({ r, i })).sort((a, b) => a.r.at - b.r.at || Number(a.r.event === 'turn.finished') - Number(b.r.event === 'turn.finished') || a.i - b.i);
  startsFirst.forEach(({ r, i }) => {
    const attemptKey = `${r.id} ${r.actor} ${r.attempt ?? 0}`;
    if (r.event === 'turn.started') {
      const { turn, after } = newTurn(r, r.at);
      turn.start = add({ tag: 'start', turn, key: [r.at, PRIO.start, i], after });
      open.set(attemptKey, turn);
    } else if (r.event === 'turn.finished') {
      const opened = open.get(attemptKey);
      // A finish without its start (a log that begins mid-turn) is drawn as a turn of one row.
      const { turn, after } = opened === undefined ? newTurn(r, r.at - (r.durationMs ?? 0)) : { turn: opened, after: [opened.start!] };
      open.delete(attemptKey);
      turn.endAt = r.at;
      turn.durationMs = r.durationMs ?? null;
      turn.outcome = r.outcome ?? null;
      turn.finish = add({ tag: 'finish', turn, key: [r.at, PRIO.finish, i], after });
    }
  });
  /**
   * Puts item `h` below the start of the turn that handled message `id` at `actor` (or below the
   * message's arrow). Not above the turn's end: a turn's tells and replies leave when it returns,
   * so they may be drawn just after its box, as they happened.
   */
  const inside = (h: number, id: string | null | undefined, actor: string, at: number): number => {
    if (id === null || id === undefined) return h;
    const list = turns.get(`${id} ${actor}`) ?? [];
    const turn = [...list].reverse().find((t) => t.startAt <= at) ?? list[0];
    const above = turn?.start ?? arrows.get(`${id} ${actor}`);
    if (above !== undefined) items[h]!.after.push(above);
    return h;
  };
  /**
   * The end of the turn a failure, retry or dead letter follows: the turn of that attempt (they come
   * after it, whatever clock stamped them), or else the last one that began by `at`.
   */
  const endOf = (id: string, actor: string, at: number, attempt: number): number[] => {
    const list = turns.get(`${id} ${actor}`) ?? [];
    const turn = list.find((t) => t.attempt === attempt) ?? [...list].reverse().find((t) => t.startAt <= at);
    const h = turn?.finish ?? turn?.start ?? arrows.get(`${id} ${actor}`);
    return h === undefined ? [] : [h];
  };

  const turnMarks = new Map<number, Drawn>(); // a turn's finish item -> the failure drawn on its row
  envs.forEach((r, i) => {
    switch (r.event) {
      case 'sent':
        for (const h of arrowsOf.get(r.id) ?? []) inside(h, r.causationId, r.actor, r.at);
        return;
      case 'replied': {
        const step: Drawn = { kind: 'message', at: r.at, id: r.id, msgKind: 'reply', from: r.actor, to: isParticipant(r.from) ? r.from : null, subject: r.subject, size: 0, reply: true, outcome: r.outcome ?? 'ok', undelivered: false };
        inside(add({ tag: 'step', step, key: [r.at, PRIO.reply, i], after: [] }), r.id, r.actor, r.at);
        return;
      }
      case 'failed':
      case 'retried':
      case 'dead-lettered': {
        // A dead letter's actor is its target, a subject when nobody took a task: it is marked on its sender then.
        const actor = isParticipant(r.actor) ? r.actor : r.from;
        const step: Drawn = { kind: 'mark', at: r.at, mark: r.event, actor, id: r.id, code: r.outcome ?? null, attempt: r.event === 'retried' ? (r.attempt ?? 1) : null, by: null, target: actor === r.actor ? null : r.actor, onTurnEnd: false };
        const turn = (turns.get(`${r.id} ${actor}`) ?? []).find((t) => t.attempt === (r.attempt ?? 0) && t.outcome === r.outcome && t.finish !== undefined);
        if (r.event === 'failed' && turn !== undefined) {
          // Drawn on the failed turn's own row: its label already says how it failed.
          turnMarks.set(turn.finish!, { ...step, onTurnEnd: true });
          return;
        }
        const prio = r.event === 'failed' ? PRIO.failed : r.event === 'retried' ? PRIO.retried : PRIO.dead;
        const h = add({ tag: 'step', step, key: [r.at, prio, i], after: endOf(r.id, actor, r.at, r.event === 'retried' ? (r.attempt ?? 1) - 1 : (r.attempt ?? 0)) });
        // A retry comes before the turn that retries.
        const next = (turns.get(`${r.id} ${actor}`) ?? []).find((t) => t.startAt >= r.at && t.start !== undefined && t.attempt >= (r.attempt ?? 1));
        if (r.event === 'retried' && next !== undefined) items[next.start!]!.after.push(h);
        return;
      }
      default:
        return;
    }
  });

  // Denials (allowed decisions are the normal case, and not drawn) and restarts.
  recs.forEach(({ r }, i) => {
    if (r.type === 'decision') {
      const d = r as DecisionRecord;
      if (d.allow) return;
      const target = actorOfSubject(d.target) ?? d.target;
      const step: Drawn = { kind: 'denial', at: d.at, actor: d.actor, action: d.action, target: d.target, toLifeline: lifelines.has(target) && target !== d.actor ? target : null, rule: d.rule, reason: d.reason ?? null };
      inside(add({ tag: 'step', step, key: [d.at, PRIO.inside, envs.length + i], after: [] }), d.messageId, d.actor, d.at);
    } else if (r.type === 'supervision') {
      const actor = supervisedActor(r);
      if (actor === null || !lifelines.has(actor)) return;
      const reason = r['reason'] as { code?: unknown } | undefined;
      const code = typeof reason === 'object' && reason !== null && typeof reason.code === 'string' ? reason.code : null;
      const messageId = typeof r['messageId'] === 'string' ? r['messageId'] : null;
      const step: Drawn = { kind: 'mark', at: r.at, mark: 'restart', actor, id: messageId, code, attempt: null, by: typeof r['supervisor'] === 'string' ? r['supervisor'] : null, target: null, onTurnEnd: false };
      add({ tag: 'step', step, key: [r.at, PRIO.restart, envs.length + i], after: messageId === null ? [] : endOf(messageId, actor, r.at, -1) });
    }
  });

  const order = topoOrder(items);
  const rowOf = new Map(order.map((h, row) => [h, row]));
  const steps: Step[] = [];
  for (const h of order) {
    const item = items[h]!;
    const row = rowOf.get(h)!;
    if (item.tag === 'step') steps.push({ ...item.step, row } as Step);
    else if (item.tag === 'start' || item.turn.start === undefined) {
      const t = item.turn;
      const endRow = t.finish === undefined ? row : rowOf.get(t.finish)!;
      steps.push({ kind: 'turn', row, endRow, at: t.startAt, id: t.id, actor: t.actor, durationMs: t.durationMs, outcome: t.outcome, attempt: t.attempt });
    }
    const failure = turnMarks.get(h);
    if (failure !== undefined) steps.push({ ...failure, row } as Step);
  }
  // Lifelines left to right in the order the diagram meets them, so arrows mostly point right.
  const order2 = new Map<string, Lifeline>();
  const meet = (id: string | null): void => {
    const l = id === null ? undefined : lifelines.get(id);
    if (l !== undefined && !order2.has(l.id)) order2.set(l.id, l);
  };
  for (const st of steps) {
    if (st.kind === 'message') {
      meet(st.from);
      meet(st.to);
    } else meet(st.actor);
  }
  for (const l of lifelines.values()) meet(l.id);
  const times = recs.map(({ r }) => r.at);
  return { lifelines: [...order2.values()], steps, rows: order.length, start: times[0] ?? 0, end: times[times.length - 1] ?? 0 };
}

/** Everyone who sends, receives or decides, in order of first appearance (records sorted by time). */
function collectLifelines(records: readonly TraceRecord[]): Map<string, Lifeline> {
  const lifelines = new Map<string, Lifeline>();
  const meet = (id: string, node?: string): void => {
    if (!isParticipant(id) || lifelines.has(id)) return;
    const role = roleOf(id);
    lifelines.set(id, role === 'actor' && node !== undefined ? { id, role, node } : { id, role });
  };
  for (const r of records) {
    if (r.type === 'envelope') {
      if (r.event === 'sent') {
        meet(r.actor, r.node);
        meet(actorOfSubject(r.to) ?? r.to);
      } else {
        meet(r.from);
        meet(r.actor, r.node);
      }
    } else if (r.type === 'decision') meet((r as DecisionRecord).actor, r.node);
  }
  return lifelines;
}

/** A supervision record's actor: `actor`, or its offender's `id` (OTP's word). */
function supervisedActor(r: Record<string, unknown>): string | null {
  if (typeof r['actor'] === 'string') return r['actor'];
  const o = r['offender'];
  if (typeof o === 'object' && o !== null && typeof (o as Record<string, unknown>)['id'] === 'string') return (o as Record<string, string>)['id']!;
  return null;
}

/** Kahn's order over the `after` edges, always taking the earliest free item (a binary heap); a cycle (a corrupt trace) falls back to time order. */
function topoOrder(items: readonly Item[]): number[] {
  const before = (a: number, b: number): boolean => {
    const x = items[a]!.key;
    const y = items[b]!.key;
    return (x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || a - b) < 0;
  };
  const waiting = items.map((it, h) => new Set(it.after.filter((d) => d !== h)));
  const next = items.map((): number[] => []);
  waiting.forEach((deps, h) => deps.forEach((d) => next[d]!.push(h)));
  const heap: number[] = [];
  const push = (h: number): void => {
    heap.push(h);
    for (let i = heap.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const pop = (): number => {
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  };
  waiting.forEach((deps, h) => (deps.size === 0 ? push(h) : undefined));
  const out: number[] = [];
  const done = new Set<number>();
  while (out.length < items.length) {
    if (heap.length === 0) {
      // A cycle: take the earliest item left, as if nothing held it.
      const rest = items.map((_, h) => h).filter((h) => !done.has(h));
      push(rest.reduce((best, h) => (before(h, best) ? h : best)));
    }
    const h = pop();
    if (done.has(h)) continue;
    done.add(h);
    out.push(h);
    for (const n of next[h]!) {
      const deps = waiting[n]!;
      deps.delete(h);
      if (deps.size === 0 && !done.has(n)) push(n);
    }
  }
  return out;
}
