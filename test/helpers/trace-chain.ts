// A hand-built chain of work, as the kernel would trace it, for the trace explorers' tests: an
// external client's task to triage/t1, which asks billing/b1 (fails once, restarted, retried, ok,
// replies), is denied a tell to notifier/n1, tells audit/a1 (fails twice, dead-lettered), and replies.
// Plus one unrelated chain. Written to a real hash-chained log with FileLog.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { DecisionRecord } from 'autonomy-os';
import { encodeTraceBatch, FileLog, recordsBatch, scanTraceBatch, type BatchInput, type EnvelopeRecord, type TraceRecord } from 'autonomy-os/internal';

export const NS = 'demo';
export const CHAIN = '4bf92f3577b34da6a3ce929d0e0e4736';
export const OTHER_CHAIN = '0af7651916cd43dd8448eb211c80319c';
export const T0 = Date.UTC(2024, 4, 1, 10, 42, 1, 120);
export const M1 = 'a000000000000001';
export const M2 = 'b000000000000002';
export const M3 = 'c000000000000003';
export const M4 = 'd000000000000004';

/** What the diagram must show for CHAIN: these lifelines, this many arrows (3 messages, 2 replies), one denial. */
export const PARTICIPANTS = ['external/web', 'triage/t1', 'billing/b1', 'audit/a1'];
export const ARROWS = 5;

type Env = Omit<EnvelopeRecord, 'type' | 'node' | 'traceparent' | 'correlationId'> & { correlationId?: string };

function env(e: Env): EnvelopeRecord {
  const correlationId = e.correlationId ?? CHAIN;
  return { type: 'envelope', node: 'n1', traceparent: `00-${correlationId}-${e.id}-01`, ...e, correlationId };
}

const task = { id: M1, causationId: null, kind: 'task', from: 'external/web', to: `${NS}.task.tickets`, subject: `${NS}.task.tickets`, size: 128 };
const ask = { id: M2, causationId: M1, kind: 'ask', from: 'triage/t1', to: 'billing/b1', subject: `${NS}.actor.billing.b1`, size: 42 };
const tell = { id: M3, causationId: M1, kind: 'tell', from: 'triage/t1', to: 'audit/a1', subject: `${NS}.actor.audit.a1`, size: 10 };
const other = { id: M4, causationId: null, kind: 'task', from: 'external', to: `${NS}.task.echo`, subject: `${NS}.task.echo`, size: 5, correlationId: OTHER_CHAIN };

const FAIL = 'ERR_HANDLER_FAILED';

/** The records in the order a node would log them. */
export function chainRecords(): TraceRecord[] {
  const t = (ms: number) => T0 + ms;
  const denial: DecisionRecord = {
    type: 'decision',
    at: t(13),
    node: 'n1',
    actor: 'triage/t1',
    role: 'desk',
    owner: 'support',
    action: 'tell',
    target: `${NS}.actor.notifier.n1`,
    allow: false,
    rule: 'roles.desk.tell',
    reason: 'not-granted',
    policy: '3f2a1b0c9d8e',
    messageId: M1,
    correlationId: CHAIN,
  };
  return [
    env({ ...task, event: 'received', at: t(0), actor: 'triage/t1' }),
    env({ ...task, event: 'turn.started', at: t(1), actor: 'triage/t1' }),
    env({ ...ask, event: 'sent', at: t(2), actor: 'triage/t1' }),
    env({ ...ask, event: 'received', at: t(3), actor: 'billing/b1' }),
    env({ ...ask, event: 'turn.started', at: t(3), actor: 'billing/b1' }),
    env({ ...ask, event: 'turn.finished', at: t(5), actor: 'billing/b1', outcome: FAIL, durationMs: 2 }),
    env({ ...ask, event: 'failed', at: t(5), actor: 'billing/b1', outcome: FAIL }),
    { type: 'supervision', at: t(6), node: 'n1', supervisor: 'desk', context: 'restart', reason: { code: FAIL, message: 'restart after 0 ms' }, offender: { id: 'billing/b1' }, correlationId: CHAIN, messageId: M2 },
    env({ ...ask, event: 'retried', at: t(7), actor: 'billing/b1', outcome: FAIL, attempt: 1 }),
    env({ ...ask, event: 'turn.started', at: t(8), actor: 'billing/b1', attempt: 1 }),
    env({ ...ask, event: 'turn.finished', at: t(12), actor: 'billing/b1', outcome: 'ok', durationMs: 4, attempt: 1 }),
    env({ ...ask, event: 'replied', at: t(12), actor: 'billing/b1', outcome: 'ok', attempt: 1 }),
    denial,
    env({ ...tell, event: 'sent', at: t(14), actor: 'triage/t1' }),
    env({ ...task, event: 'turn.finished', at: t(15), actor: 'triage/t1', outcome: 'ok', durationMs: 14 }),
    env({ ...task, event: 'replied', at: t(15), actor: 'triage/t1', outcome: 'ok' }),
    env({ ...tell, event: 'received', at: t(16), actor: 'audit/a1' }),
    env({ ...tell, event: 'turn.started', at: t(16), actor: 'audit/a1' }),
    env({ ...tell, event: 'turn.finished', at: t(18), actor: 'audit/a1', outcome: FAIL, durationMs: 2 }),
    env({ ...tell, event: 'failed', at: t(18), actor: 'audit/a1', outcome: FAIL }),
    env({ ...tell, event: 'retried', at: t(19), actor: 'audit/a1', outcome: FAIL, attempt: 1 }),
    env({ ...tell, event: 'turn.started', at: t(19), actor: 'audit/a1', attempt: 1 }),
    env({ ...tell, event: 'turn.finished', at: t(21), actor: 'audit/a1', outcome: FAIL, durationMs: 2, attempt: 1 }),
    env({ ...tell, event: 'failed', at: t(21), actor: 'audit/a1', outcome: FAIL, attempt: 1 }),
    env({ ...tell, event: 'dead-lettered', at: t(22), actor: 'audit/a1', outcome: FAIL, attempt: 1 }),
    env({ ...other, event: 'received', at: t(30), actor: 'echo/e1' }),
    env({ ...other, event: 'turn.started', at: t(30), actor: 'echo/e1' }),
    env({ ...other, event: 'turn.finished', at: t(31), actor: 'echo/e1', outcome: 'ok', durationMs: 1 }),
  ];
}

/** A batch of plain records, as FileLog.append takes it (a tracer's input). */
export function recordsInput(node: string, batch: number, records: readonly object[], tracer = 'tracer/t'): BatchInput {
  const bytes = encodeTraceBatch(recordsBatch(node, batch, records));
  return { bytes, records: scanTraceBatch(bytes).records, tracer };
}

/** Writes the records to `<dir>/trace.log` (and its head) in two batches, a checkpoint every 8 records. */
export function writeChainLog(dir: string, records: readonly TraceRecord[] = chainRecords()): string {
  const file = join(dir, 'trace.log');
  const log = FileLog.open(file, { checkpointEvery: 8, now: () => T0 + 1_000 });
  const half = Math.floor(records.length / 2);
  log.append(recordsInput('n1', 1, records.slice(0, half)));
  log.append(recordsInput('n1', 2, records.slice(half)));
  return file;
}

/** A log line's entry, as the tamper tests edit it. */
export type Json = Record<string, unknown>;

/** The hash a writer gives a line: sha256 of the line without its hash member. */
export function hashOf(line: string): string {
  return createHash('sha256').update(line.replace(/"hash":"[0-9a-f]{64}",/, '')).digest('hex');
}

/** The lines with entry `index` changed by `edit` (re-serialised in the same member order), and optionally re-hashed. */
export function tamper(lines: readonly string[], index: number, edit: (e: Json) => void, rehash = false): string[] {
  const out = [...lines];
  const e = JSON.parse(out[index]!) as Json;
  edit(e);
  let line = JSON.stringify(e);
  if (rehash) line = line.replace(/"hash":"[0-9a-f]{64}"/, `"hash":"${hashOf(line)}"`);
  out[index] = line;
  return out;
}
