// Trace queries as pure functions over hand-built records: one chain of work with a multi-hop
// ask, a fan-out (two asks, and an event two subscribers receive), a failure, restart and retry,
// a denial and a dead letter, rebuilt as its exact causal tree; tail's filters; stats' percentiles.

import { describe, expect, test } from 'vitest';
import type { DecisionRecord } from 'autonomy-os';
import { encodeTraceBatch, LogWriter, recordsBatch, type EnvelopeRecord, type GovernanceRecord, type TraceRecord } from 'autonomy-os/internal';
import {
  answerQuery,
  buildCausalTree,
  chainOf,
  percentile,
  recordsOfLog,
  stats,
  tail,
  traceQuerySchema,
  type CausalNode,
} from 'autonomy-os/internal';

const C = 'c0ffee00c0ffee00c0ffee00c0ffee00';

function env(event: EnvelopeRecord['event'], at: number, actor: string, m: Msg, extra: Partial<EnvelopeRecord> = {}): EnvelopeRecord {
  return {
    type: 'envelope',
    event,
    at,
    node: 'n1',
    actor,
    id: m.id,
    correlationId: m.correlationId ?? C,
    causationId: m.causationId,
    traceparent: `00-${m.correlationId ?? C}-${m.id.padStart(16, '0').slice(0, 16)}-01`,
    kind: m.kind,
    from: m.from,
    to: m.to,
    subject: m.subject,
    size: 10,
    ...extra,
  };
}

interface Msg {
  id: string;
  causationId: string | null;
  kind: string;
  from: string;
  to: string;
  subject: string;
  correlationId?: string;
}

function denial(at: number, actor: string, target: string, messageId: string | undefined, correlationId = C): DecisionRecord {
  const d: DecisionRecord = { type: 'decision', at, node: 'n1', actor, role: 'r', owner: null, action: 'tell', target, allow: false, rule: 'default deny', reason: 'not-granted', policy: 'p1', correlationId };
  if (messageId !== undefined) d.messageId = messageId;
  return d;
}

const m1: Msg = { id: 'm1', causationId: null, kind: 'task', from: 'external', to: 'triage/a', subject: 'aos.task.tickets' };
const m2: Msg = { id: 'm2', causationId: 'm1', kind: 'ask', from: 'triage/a', to: 'billing/b1', subject: 'aos.actor.billing.b1' };
const m3: Msg = { id: 'm3', causationId: 'm1', kind: 'ask', from: 'triage/a', to: 'tech/t1', subject: 'aos.actor.tech.t1' };
const m4: Msg = { id: 'm4', causationId: 'm1', kind: 'event', from: 'triage/a', to: 'aos.evt.ticket', subject: 'aos.evt.ticket' };
const m5: Msg = { id: 'm5', causationId: 'm2', kind: 'tell', from: 'billing/b1', to: 'ghost/g', subject: 'aos.actor.ghost.g' };
const other: Msg = { id: 'x1', causationId: null, kind: 'tell', from: 'external', to: 'echo/a', subject: 'aos.actor.echo.a', correlationId: 'ffff' };

/** The chain, in log order (which is not time order across batches), with records of another chain and bookkeeping around it. */
function records(): TraceRecord[] {
  const restart: GovernanceRecord = { type: 'supervision', at: 131, node: 'n1', event: 'restarted', actor: 'billing/b1', messageId: 'm2', correlationId: C };
  return [
    env('received', 100, 'triage/a', m1),
    env('turn.started', 101, 'triage/a', m1),
    env('sent', 102, 'triage/a', m2),
    env('sent', 103, 'triage/a', m3),
    env('sent', 104, 'triage/a', m4),
    env('received', 110, 'billing/b1', m2),
    env('turn.started', 111, 'billing/b1', m2),
    env('turn.finished', 121, 'billing/b1', m2, { outcome: 'ERR_HANDLER_FAILED', durationMs: 10 }),
    env('failed', 121, 'billing/b1', m2, { outcome: 'ERR_HANDLER_FAILED' }),
    restart,
    env('retried', 132, 'billing/b1', m2, { attempt: 1 }),
    env('turn.started', 133, 'billing/b1', m2, { attempt: 1 }),
    env('sent', 134, 'billing/b1', m5),
    env('turn.finished', 137, 'billing/b1', m2, { attempt: 1, outcome: 'ok', durationMs: 4 }),
    env('replied', 137, 'billing/b1', m2, { outcome: 'ok' }),
    env('dead-lettered', 138, 'ghost/g', m5, { outcome: 'ERR_NO_RESPONDERS' }),
    env('received', 111, 'tech/t1', m3),
    env('turn.started', 112, 'tech/t1', m3),
    denial(113, 'tech/t1', 'secret/x', 'm3'),
    env('turn.finished', 115, 'tech/t1', m3, { outcome: 'ok', durationMs: 3 }),
    env('replied', 115, 'tech/t1', m3, { outcome: 'ok' }),
    env('received', 106, 'audit/a', m4),
    env('received', 107, 'audit/b', m4),
    env('turn.finished', 108, 'audit/a', m4, { outcome: 'ok', durationMs: 1 }),
    env('turn.finished', 109, 'audit/b', m4, { outcome: 'ok', durationMs: 2 }),
    { type: 'decision', at: 102, node: 'n1', actor: 'triage/a', role: 'r', owner: null, action: 'ask', target: 'billing/b1', allow: true, rule: 'ask billing', policy: 'p1', messageId: 'm1', correlationId: C },
    denial(139, 'triage/a', 'secret/y', 'gone'),
    env('turn.finished', 140, 'triage/a', m1, { outcome: 'ok', durationMs: 39 }),
    env('replied', 140, 'triage/a', m1, { outcome: 'ok' }),
    env('received', 105, 'echo/a', other),
    env('turn.finished', 106, 'echo/a', other, { outcome: 'ok', durationMs: 1 }),
    { type: 'trace', event: 'batch', at: 141, node: 'n1', batch: 7, records: 30 },
  ];
}

/** A node as `trace show` draws it: who, what became of it at each receiver, what it caused. */
function shape(n: CausalNode): unknown {
  return {
    id: n.id,
    route: `${n.from} -> ${n.to} (${n.kind})`,
    sentAt: n.sentAt,
    outcome: n.outcome,
    handlers: n.handlers.map((h) => ({
      actor: h.actor,
      turns: h.turns,
      ms: h.durationMs,
      outcome: h.outcome,
      replied: h.replied,
      failures: h.failures.map((f) => f.code),
      retries: h.retries,
      dead: h.deadLettered?.code ?? null,
    })),
    denials: n.denials.map((d) => d.target),
    restarts: n.restarts.map((r) => r['event']),
    children: n.children.map(shape),
  };
}

describe('trace query', () => {
  test('trace query - chainOf keeps one correlation id, in time order, denials included', () => {
    const chain = chainOf(records(), C);
    expect(chain.every((r) => (r as { correlationId?: string }).correlationId === C)).toBe(true);
    expect(chain.map((r) => r.at)).toEqual([...chain.map((r) => r.at)].sort((a, b) => a - b));
    expect(chain.filter((r) => r.type === 'envelope')).toHaveLength(25);
    expect(chain.filter((r) => r.type === 'decision')).toHaveLength(3);
    expect(chain.filter((r) => r.type === 'supervision')).toHaveLength(1);
    expect(chainOf(records(), 'ffff')).toHaveLength(2);
    expect(chainOf(records(), 'nothing')).toEqual([]);
  });

  test('trace query - the causal tree of a chain with fan-out, a failure and retry, a denial and a dead letter has the exact shape', () => {
    const tree = buildCausalTree(chainOf(records(), C));
    expect(tree.roots.map(shape)).toEqual([
      {
        id: 'm1',
        route: 'external -> triage/a (task)',
        sentAt: null,
        outcome: 'ok',
        handlers: [{ actor: 'triage/a', turns: 1, ms: 39, outcome: 'ok', replied: 'ok', failures: [], retries: 0, dead: null }],
        denials: [],
        restarts: [],
        children: [
          {
            id: 'm2',
            route: 'triage/a -> billing/b1 (ask)',
            sentAt: 102,
            outcome: 'ok',
            handlers: [{ actor: 'billing/b1', turns: 2, ms: 14, outcome: 'ok', replied: 'ok', failures: ['ERR_HANDLER_FAILED'], retries: 1, dead: null }],
            denials: [],
            restarts: ['restarted'],
            children: [
              {
                id: 'm5',
                route: 'billing/b1 -> ghost/g (tell)',
                sentAt: 134,
                outcome: 'dead-lettered',
                handlers: [{ actor: 'ghost/g', turns: 0, ms: 0, outcome: 'dead-lettered', replied: null, failures: [], retries: 0, dead: 'ERR_NO_RESPONDERS' }],
                denials: [],
                restarts: [],
                children: [],
              },
            ],
          },
          {
            id: 'm3',
            route: 'triage/a -> tech/t1 (ask)',
            sentAt: 103,
            outcome: 'ok',
            handlers: [{ actor: 'tech/t1', turns: 1, ms: 3, outcome: 'ok', replied: 'ok', failures: [], retries: 0, dead: null }],
            denials: ['secret/x'],
            restarts: [],
            children: [],
          },
          {
            id: 'm4',
            route: 'triage/a -> aos.evt.ticket (event)',
            sentAt: 104,
            outcome: 'ok',
            handlers: [
              { actor: 'audit/a', turns: 1, ms: 1, outcome: 'ok', replied: null, failures: [], retries: 0, dead: null },
              { actor: 'audit/b', turns: 1, ms: 2, outcome: 'ok', replied: null, failures: [], retries: 0, dead: null },
            ],
            denials: [],
            restarts: [],
            children: [],
          },
        ],
      },
    ]);
    // The denial about a message the records do not hold is kept, not lost; allowed decisions are not denials.
    expect(tree.unattached).toEqual([expect.objectContaining({ type: 'decision', target: 'secret/y', messageId: 'gone' })]);
    const m2node = tree.roots[0]!.children[0]!;
    expect(m2node.events.map((e) => `${e.event}@${e.at}`)).toEqual([
      'sent@102',
      'received@110',
      'turn.started@111',
      'turn.finished@121',
      'failed@121',
      'retried@132',
      'turn.started@133',
      'turn.finished@137',
      'replied@137',
    ]);
    expect(m2node.handlers[0]!.failures).toEqual([{ at: 121, code: 'ERR_HANDLER_FAILED', attempt: 0 }]);
    expect(m2node.events.find((e) => e.event === 'retried')).toMatchObject({ attempt: 1, actor: 'billing/b1', node: 'n1' });
  });

  test('trace query - a message whose cause is missing is a root; a message still in flight has no outcome', () => {
    const all = chainOf(records(), C).filter((r) => !(r.type === 'envelope' && r.id === 'm1'));
    const tree = buildCausalTree(all.filter((r) => !(r.type === 'envelope' && r.id === 'm3' && r.event !== 'sent' && r.event !== 'received')));
    expect(tree.roots.map((n) => n.id)).toEqual(['m2', 'm3', 'm4']);
    expect(tree.roots[1]!.outcome).toBeNull();
    expect(tree.roots[1]!.handlers[0]).toMatchObject({ actor: 'tech/t1', receivedAt: 111, turns: 0, outcome: null });
  });

  test('trace query - causation cycles (bad records) end in a root, not a loop', () => {
    const a: Msg = { id: 'a', causationId: 'b', kind: 'tell', from: 'x/1', to: 'y/1', subject: 's' };
    const b: Msg = { id: 'b', causationId: 'a', kind: 'tell', from: 'y/1', to: 'x/1', subject: 's' };
    const self: Msg = { id: 'c', causationId: 'c', kind: 'tell', from: 'y/1', to: 'x/1', subject: 's' };
    const tree = buildCausalTree([env('sent', 1, 'x/1', a), env('sent', 2, 'y/1', b), env('sent', 3, 'y/1', self)]);
    expect(tree.roots.map((n) => [n.id, n.children.map((c) => c.id)])).toEqual([
      ['b', ['a']],
      ['c', []],
    ]);
  });

  test('trace query - tail gives the last matching records, oldest first, by actor, type or event, and denials', () => {
    const rs = records();
    expect(tail(rs, { limit: 2 }).map((r) => r.at)).toEqual([105, 106]); // the batch mark is bookkeeping
    expect(tail(rs, { type: 'trace' })).toEqual([expect.objectContaining({ event: 'batch', batch: 7 })]);
    expect(tail(rs, { actor: 'tech/t1' }).map((r) => `${r.type}:${(r as { event?: string }).event ?? ''}`)).toEqual([
      'envelope:received',
      'envelope:turn.started',
      'decision:',
      'envelope:turn.finished',
      'envelope:replied',
    ]);
    expect(tail(rs, { type: 'dead-lettered' })).toEqual([expect.objectContaining({ id: 'm5', outcome: 'ERR_NO_RESPONDERS' })]);
    expect(tail(rs, { type: 'decision' })).toHaveLength(3);
    expect(tail(rs, { denied: true }).map((r) => (r as DecisionRecord).target)).toEqual(['secret/x', 'secret/y']);
    expect(tail(rs, { denied: true, actor: 'triage/a', limit: 5 }).map((r) => (r as DecisionRecord).target)).toEqual(['secret/y']);
    expect(tail(rs, { type: 'turn.finished', limit: 3 }).map((r) => (r as EnvelopeRecord).actor)).toEqual(['audit/b', 'triage/a', 'echo/a']);
    expect(tail(rs, { actor: 'nobody/x' })).toEqual([]);
  });

  test('trace query - stats per actor: turns, failures, denials, nearest-rank p50 and p99', () => {
    const many: TraceRecord[] = [];
    for (let i = 100; i >= 1; i--) many.push(env('turn.finished', i, 'w/a', { ...m1, id: `w${i}` }, { durationMs: i, outcome: 'ok' }));
    const s = stats([...records(), ...many]);
    expect(s).toEqual([
      { actor: 'audit/a', turns: 1, failures: 0, denials: 0, p50Ms: 1, p99Ms: 1 },
      { actor: 'audit/b', turns: 1, failures: 0, denials: 0, p50Ms: 2, p99Ms: 2 },
      { actor: 'billing/b1', turns: 2, failures: 1, denials: 0, p50Ms: 4, p99Ms: 10 },
      { actor: 'echo/a', turns: 1, failures: 0, denials: 0, p50Ms: 1, p99Ms: 1 },
      { actor: 'tech/t1', turns: 1, failures: 0, denials: 1, p50Ms: 3, p99Ms: 3 },
      { actor: 'triage/a', turns: 1, failures: 0, denials: 1, p50Ms: 39, p99Ms: 39 },
      { actor: 'w/a', turns: 100, failures: 0, denials: 0, p50Ms: 50, p99Ms: 99 },
    ]);
    expect(stats([])).toEqual([]);
    expect(stats([denial(1, 'only/denied', 't', undefined)])).toEqual([{ actor: 'only/denied', turns: 0, failures: 0, denials: 1, p50Ms: null, p99Ms: null }]);
    expect([percentile([], 50), percentile([7], 99), percentile([1, 2, 3, 4], 50), percentile([1, 2, 3, 4], 99), percentile([1, 2, 3, 4], 0)]).toEqual([null, 7, 2, 4, 1]);
  });

  test('trace query - the records of a log text come back batch by batch, each with its mark; checkpoints and a partial last line left out', () => {
    const rs = records();
    const writer = new LogWriter({ checkpointEvery: 4, now: () => 1 });
    const half = Math.floor(rs.length / 2);
    const text = [rs.slice(0, half), rs.slice(half)].map((part, i) => {
      const bytes = encodeTraceBatch(recordsBatch('n1', i + 1, part));
      return new TextDecoder().decode(writer.append({ bytes, records: part.length, tracer: 'tracer/t' }));
    }).join('');
    expect(text.split('\n').filter((l) => l.includes('"checkpoint"')).length).toBeGreaterThan(0);
    const sorted = (part: TraceRecord[]) => [...part].sort((a, b) => a.at - b.at);
    const mark = (batch: number, n: number) => ({ type: 'trace', event: 'batch', at: 1, node: 'n1', batch, records: n, tracer: 'tracer/t' });
    const expected = [...sorted(rs.slice(0, half)), mark(1, half), ...sorted(rs.slice(half)), mark(2, rs.length - half)];
    expect(recordsOfLog(text)).toEqual(expected);
    expect(recordsOfLog(`${text}${text.split('\n')[0]!.slice(0, 30)}`)).toEqual(expected);
    expect(recordsOfLog('')).toEqual([]);
  });

  test('trace query - queries are checked by their schema and answered by kind', () => {
    const rs = records();
    expect(traceQuerySchema.safeParse({ kind: 'show', correlationId: '' }).success).toBe(false);
    expect(traceQuerySchema.safeParse({ kind: 'tail', limit: 0 }).success).toBe(false);
    expect(traceQuerySchema.safeParse({ kind: 'drop' }).success).toBe(false);
    const show = answerQuery(rs, traceQuerySchema.parse({ kind: 'show', correlationId: 'ffff' }));
    expect(show).toEqual({ kind: 'show', correlationId: 'ffff', records: chainOf(rs, 'ffff') });
    expect(answerQuery(rs, traceQuerySchema.parse({ kind: 'tail', denied: true, limit: 1 }))).toEqual({ kind: 'tail', records: [expect.objectContaining({ target: 'secret/y' })] });
    expect(answerQuery(rs, { kind: 'stats' })).toEqual({ kind: 'stats', actors: stats(rs) });
  });
});
