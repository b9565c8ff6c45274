// The trace page, pure: one chain's records become a sequence model (lifelines in order of
// appearance, one arrow per message and receiver, turn boxes, denials, failures, retries, dead
// letters, restarts, in an order that never breaks causality), and a self-contained HTML page.
// The CLI's renderer is not part of the package: imported from its source (it imports only types).

import { describe, expect, test } from 'vitest';
import type { DecisionRecord } from 'autonomy-os';
import type { EnvelopeRecord, TraceRecord } from 'autonomy-os/internal';
import { esc, renderTraceHtml } from '../../cli/trace-html.js';
import { buildSequence, ms, type MarkStep, type MessageStep, type Step, type TurnStep } from '../../cli/trace-sequence.js';
import { ARROWS, CHAIN, chainRecords, M1, M2, M3, PARTICIPANTS, T0 } from '../helpers/trace-chain.js';

const chain = (): TraceRecord[] => chainRecords().filter((r) => (r as { correlationId?: string }).correlationId === CHAIN);

const of = <K extends Step['kind']>(steps: Step[], kind: K) => steps.filter((s): s is Extract<Step, { kind: K }> => s.kind === kind);

function env(e: Partial<EnvelopeRecord> & Pick<EnvelopeRecord, 'event' | 'at' | 'actor' | 'id'>): EnvelopeRecord {
  return { type: 'envelope', node: 'n1', correlationId: CHAIN, causationId: null, traceparent: '', kind: 'tell', from: 'a/1', to: 'b/1', subject: 'ns.actor.b.1', size: 1, ...e };
}

/** Occurrences of `needle` in `text`. */
function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('trace html - the sequence model', () => {
  test('trace html - one lifeline per participant, in order of appearance, the outside client first', () => {
    const seq = buildSequence(chain());
    expect(seq.lifelines.map((l) => l.id)).toEqual(PARTICIPANTS);
    expect(seq.lifelines.map((l) => l.role)).toEqual(['client', 'actor', 'actor', 'actor']);
    expect(seq.lifelines[1]!.node).toBe('n1');
    expect(seq.start).toBe(T0);
    expect(seq.end).toBe(T0 + 22);
  });

  test('trace html - an arrow per message and per reply, from sender to receiver', () => {
    const arrows = of(buildSequence(chain()).steps, 'message');
    expect(arrows).toHaveLength(ARROWS);
    const pairs = arrows.map((m) => `${m.reply ? 'reply' : m.msgKind} ${m.from} -> ${m.to}`);
    expect(pairs).toEqual([
      'task external/web -> triage/t1',
      'ask triage/t1 -> billing/b1',
      'reply billing/b1 -> triage/t1',
      'tell triage/t1 -> audit/a1',
      'reply triage/t1 -> external/web',
    ]);
  });

  test('trace html - turns span their rows; a failed turn carries its failure on its last row', () => {
    const seq = buildSequence(chain());
    const turns = of(seq.steps, 'turn');
    expect(turns.map((t) => `${t.actor} ${t.outcome} ${t.durationMs}`)).toEqual([
      'triage/t1 ok 14',
      'billing/b1 ERR_HANDLER_FAILED 2',
      'billing/b1 ok 4',
      'audit/a1 ERR_HANDLER_FAILED 2',
      'audit/a1 ERR_HANDLER_FAILED 2',
    ]);
    const triage = turns[0]!;
    const inside = seq.steps.filter((s) => s.row > triage.row && s.row < triage.endRow);
    // Everything triage/t1 did while handling the task is inside its box: the ask, the denial, the tell, its reply.
    expect(inside.filter((s) => s.kind !== 'turn' && 'actor' in s ? s.actor === 'triage/t1' : (s as MessageStep).from === 'triage/t1').length).toBe(4);
    const failures = of(seq.steps, 'mark').filter((m) => m.mark === 'failed');
    expect(failures).toHaveLength(3);
    for (const f of failures) {
      expect(f.onTurnEnd).toBe(true);
      expect(turns.some((t) => t.actor === f.actor && t.endRow === f.row && t.outcome === f.code)).toBe(true);
    }
  });

  test('trace html - a retry is drawn after the failure and the restart, and before the turn that retries', () => {
    const seq = buildSequence(chain());
    const billing = seq.steps.filter((s) => ('actor' in s && s.actor === 'billing/b1') || (s.kind === 'message' && s.to === 'billing/b1'));
    const words = billing.map((s) => (s.kind === 'mark' ? s.mark : s.kind === 'turn' ? `turn ${s.outcome}` : s.kind));
    expect(words).toEqual(['message', 'turn ERR_HANDLER_FAILED', 'failed', 'restart', 'retried', 'turn ok']);
    const rows = billing.map((s) => s.row);
    expect(rows).toEqual([...rows].sort((a, b) => a - b));
    // audit/a1's retry and the turn that retries fall in the same millisecond.
    const audit = seq.steps.filter((s) => 'actor' in s && s.actor === 'audit/a1').map((s) => (s.kind === 'mark' ? s.mark : s.kind === 'turn' ? `turn ${s.outcome}` : s.kind));
    expect(audit).toEqual(['turn ERR_HANDLER_FAILED', 'failed', 'retried', 'turn ERR_HANDLER_FAILED', 'failed', 'dead-lettered']);
    const restart = billing.find((s): s is MarkStep => s.kind === 'mark' && s.mark === 'restart')!;
    expect(restart).toMatchObject({ by: 'desk', code: 'ERR_HANDLER_FAILED', id: M2 });
  });

  test('trace html - a denial points at the actor it was meant for, by its subject', () => {
    const [denial, ...more] = of(buildSequence(chain()).steps, 'denial');
    expect(more).toEqual([]);
    // notifier/n1 never took part, so it has no lifeline: the arrow goes nowhere.
    expect(denial).toMatchObject({ actor: 'triage/t1', action: 'tell', target: 'demo.actor.notifier.n1', toLifeline: null, reason: 'not-granted', rule: 'roles.desk.tell' });
    const withBilling = buildSequence(chain().map((r) => (r.type === 'decision' ? { ...r, target: 'demo.actor.billing.b1' } : r)));
    expect(of(withBilling.steps, 'denial')[0]!.toLifeline).toBe('billing/b1');
  });

  test('trace html - a dead letter is the last thing on its actor', () => {
    const seq = buildSequence(chain());
    const dead = of(seq.steps, 'mark').filter((m) => m.mark === 'dead-lettered');
    expect(dead).toMatchObject([{ actor: 'audit/a1', code: 'ERR_HANDLER_FAILED', id: M3 }]);
    expect(dead[0]!.row).toBe(seq.rows - 1);
  });

  test('trace html - a hop within one millisecond still reads in causal order', () => {
    // Everything at the same time, and the records given receiver first.
    const at = 5;
    const records: TraceRecord[] = [
      env({ event: 'turn.finished', at, actor: 'b/1', id: 'm2', causationId: 'm1', durationMs: 0, outcome: 'ok' }),
      env({ event: 'turn.started', at, actor: 'b/1', id: 'm2', causationId: 'm1' }),
      env({ event: 'received', at, actor: 'b/1', id: 'm2', causationId: 'm1' }),
      env({ event: 'sent', at, actor: 'a/1', id: 'm2', causationId: 'm1' }),
      env({ event: 'turn.finished', at, actor: 'a/1', id: 'm1', from: 'external', to: 'a/1', durationMs: 0, outcome: 'ok' }),
      env({ event: 'turn.started', at, actor: 'a/1', id: 'm1', from: 'external', to: 'a/1' }),
      env({ event: 'received', at, actor: 'a/1', id: 'm1', from: 'external', to: 'a/1' }),
    ];
    const seq = buildSequence(records);
    expect(seq.lifelines.map((l) => l.id)).toEqual(['external', 'a/1', 'b/1']);
    const [first, second] = of(seq.steps, 'message');
    const [turnA, turnB] = of(seq.steps, 'turn') as [TurnStep, TurnStep];
    expect(first!.row).toBeLessThan(turnA.row); // external -> a/1, then a/1's turn
    expect(turnA.row).toBeLessThan(second!.row); // a/1 sends inside its turn
    expect(second!.row).toBeLessThan(turnA.endRow);
    expect(second!.row).toBeLessThan(turnB.row); // b/1 starts after the message reached it
  });

  test('trace html - an event reaches every subscriber: one arrow each; a task nobody took goes nowhere', () => {
    const records: TraceRecord[] = [
      env({ event: 'sent', at: 1, actor: 'a/1', id: 'e1', kind: 'event', to: 'ns.evt.x', subject: 'ns.evt.x' }),
      env({ event: 'received', at: 2, actor: 'b/1', id: 'e1', kind: 'event', to: 'ns.evt.x', subject: 'ns.evt.x' }),
      env({ event: 'received', at: 2, actor: 'c/1', id: 'e1', kind: 'event', to: 'ns.evt.x', subject: 'ns.evt.x' }),
      env({ event: 'sent', at: 3, actor: 'a/1', id: 't1', kind: 'task', to: 'ns.task.y', subject: 'ns.task.y' }),
      env({ event: 'dead-lettered', at: 4, actor: 'ns.task.y', from: 'a/1', id: 't1', kind: 'task', to: 'ns.task.y', subject: 'ns.task.y', outcome: 'ERR_UNAVAILABLE' }),
    ];
    const seq = buildSequence(records);
    expect(seq.lifelines.map((l) => l.id)).toEqual(['a/1', 'b/1', 'c/1']);
    const arrows = of(seq.steps, 'message');
    expect(arrows.map((m) => `${m.id} ${m.to} ${m.undelivered}`)).toEqual(['e1 b/1 false', 'e1 c/1 false', 't1 null true']);
    expect(of(seq.steps, 'mark')).toMatchObject([{ mark: 'dead-lettered', actor: 'a/1', target: 'ns.task.y', code: 'ERR_UNAVAILABLE' }]);
  });

  test('trace html - a corrupt trace whose causes go round in a circle is still drawn, every step once', () => {
    // m1 was sent while handling m2, and m2 while handling m1: no order satisfies both.
    const records: TraceRecord[] = [
      env({ event: 'sent', at: 1, actor: 'a/1', id: 'm1', causationId: 'm2', to: 'b/1' }),
      env({ event: 'received', at: 2, actor: 'b/1', id: 'm1', causationId: 'm2', to: 'b/1' }),
      env({ event: 'turn.started', at: 3, actor: 'b/1', id: 'm1', causationId: 'm2', to: 'b/1' }),
      env({ event: 'sent', at: 4, actor: 'b/1', id: 'm2', causationId: 'm1', from: 'b/1', to: 'a/1' }),
      env({ event: 'received', at: 5, actor: 'a/1', id: 'm2', causationId: 'm1', from: 'b/1', to: 'a/1' }),
      env({ event: 'turn.started', at: 0, actor: 'a/1', id: 'm2', causationId: 'm1', from: 'b/1', to: 'a/1' }),
    ];
    const seq = buildSequence(records);
    expect(seq.rows).toBe(4); // two arrows, two turn starts (no finishes)
    expect(new Set(seq.steps.map((s) => s.row)).size).toBe(seq.steps.length);
  });

  test('trace html - a long chain (5,000 hops) is laid out quickly', () => {
    const records: TraceRecord[] = [];
    for (let i = 0; i < 5_000; i++) {
      const id = `m${i}`;
      const causationId = i === 0 ? null : `m${i - 1}`;
      const [from, to] = [`w/${i % 7}`, `w/${(i + 1) % 7}`];
      records.push(
        env({ event: 'sent', at: i * 3, actor: from, id, causationId, from, to }),
        env({ event: 'received', at: i * 3 + 1, actor: to, id, causationId, from, to }),
        env({ event: 'turn.started', at: i * 3 + 1, actor: to, id, causationId, from, to }),
        env({ event: 'turn.finished', at: i * 3 + 2, actor: to, id, causationId, from, to, durationMs: 1, outcome: 'ok' }),
      );
    }
    const started = performance.now();
    const seq = buildSequence(records);
    const page = renderTraceHtml(records, { correlationId: CHAIN });
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(seq.lifelines).toHaveLength(7);
    expect(of(seq.steps, 'message')).toHaveLength(5_000);
    expect(occurrences(page, '<g class="message')).toBe(5_000);
  });

  test('trace html - durations read short and exact enough', () => {
    expect([0.42, 3, 12.4, 999, 1_250, 59_994, 125_000].map(ms)).toEqual(['0.4ms', '3ms', '12ms', '999ms', '1.25s', '59.99s', '2m05s']);
  });
});

describe('trace html - the page', () => {
  test('trace html - one group per lifeline, arrow, turn and denial, with their ids', () => {
    const page = renderTraceHtml(chain(), { correlationId: CHAIN });
    expect(occurrences(page, '<g class="lifeline ')).toBe(PARTICIPANTS.length);
    for (const p of PARTICIPANTS) expect(page).toContain(`data-actor="${p}"`);
    expect(occurrences(page, '<g class="message')).toBe(ARROWS);
    expect(occurrences(page, '<g class="turn ')).toBe(5);
    expect(occurrences(page, '<g class="denial"')).toBe(1);
    expect(page).toContain(`data-id="${M1}"`);
    expect(page).toContain(`<title>Chain of work ${CHAIN}</title>`);
    expect(page).toContain('2024-05-01 10:42:01.120 UTC to 2024-05-01 10:42:01.142 UTC');
    expect(page).toMatch(/DENIED tell notifier\/n1/);
  });

  test('trace html - self-contained: no script, no external resource, a CSP that forbids the network', () => {
    const page = renderTraceHtml(chain(), { correlationId: CHAIN });
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/\b(src|href)\s*=/i);
    expect(page).not.toMatch(/https?:|\/\/[a-z]/i);
    expect(page).not.toMatch(/@import|url\((?!#)/i);
    expect(page).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"`);
  });

  test('trace html - names and subjects from the trace are escaped', () => {
    const hostile = chain().map((r) => (r.type === 'envelope' && r.actor === 'billing/b1' ? { ...r, actor: `<img src=x onerror="alert(1)">` } : r));
    const page = renderTraceHtml(hostile, { correlationId: `"><script>` });
    expect(page).not.toContain('<img');
    expect(page).not.toContain('<script');
    expect(page).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(esc(`a&b<c>"d'`)).toBe('a&amp;b&lt;c&gt;&quot;d&#39;');
  });

  test('trace html - a chain without records still makes a page', () => {
    const page = renderTraceHtml([], { correlationId: CHAIN });
    expect(page).toContain('no records');
    expect(occurrences(page, '<g class="lifeline ')).toBe(0);
  });

  test('trace html - a denial of an actor that takes part points at its lifeline', () => {
    const decision = chain().find((r): r is DecisionRecord => r.type === 'decision')!;
    const page = renderTraceHtml([...chain().filter((r) => r !== decision), { ...decision, target: 'demo.actor.audit.a1' }], { correlationId: CHAIN });
    expect(page).toContain('data-target="demo.actor.audit.a1"');
    expect(page).toMatch(/DENIED tell audit\/a1/);
  });
});
