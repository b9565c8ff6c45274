// The wire form of a batch of trace records on `<ns>.trace.<node>`: JSON, with envelope events
// as compact rows over a per-batch string table (so recording every event costs little on the
// kernel thread), and other records as plain objects. `decodeTraceBatch` turns it back into
// full records (EnvelopeRecord with its traceparent); any JSON client can do the same.
//
//   { "v": 1, "node": "n1", "batch": 17, "strings": ["echo/a", ...],
//     "events": [[event, at, actor, id, correlationId, causationId, kind, from, to, subject, size, outcome, durationMs, attempt], ...],
//     "records": [{ "type": "decision", ... }, ...] }
//
// `actor`, `kind`, `from`, `to`, `subject` and `outcome` are indexes into `strings`; `causationId`,
// `outcome`, `durationMs` are null when absent, `attempt` 0. The event `turn` stands for two:
// `turn.started` at `at`, and `turn.finished` at `at + durationMs`.

import { formatTraceparent } from '../ids.js';
import type { EnvelopeEvent, EnvelopeRecord, TraceRecord } from './records.js';

export const TRACE_WIRE_VERSION = 1;

/** The wire's event names: the record events, and `turn` (started + finished in one row). */
export type WireEvent = Exclude<EnvelopeEvent, 'turn.started' | 'turn.finished'> | 'turn' | 'handled';

export type EventRow = [WireEvent, number, number, string, string, string | null, number, number, number, number, number, number | null, number | null, number];

export interface TraceBatch {
  v: number;
  node: string;
  batch: number;
  strings: string[];
  events: EventRow[];
  records: object[];
}

export interface DecodedBatch {
  node: string;
  batch: number;
  records: TraceRecord[];
}

const EVENTS = new Set<string>(['received', 'turn', 'handled', 'sent', 'replied', 'failed', 'retried', 'dead-lettered']);

/** Reads a batch (bytes or parsed JSON); throws a plain Error naming the problem when it is not one. */
export function decodeTraceBatch(input: Uint8Array | string | unknown): DecodedBatch {
  const value: unknown = input instanceof Uint8Array ? JSON.parse(new TextDecoder().decode(input)) : typeof input === 'string' ? JSON.parse(input) : input;
  if (typeof value !== 'object' || value === null) throw new Error('a trace batch is a JSON object');
  const b = value as Partial<TraceBatch>;
  if (b.v !== TRACE_WIRE_VERSION || typeof b.node !== 'string' || typeof b.batch !== 'number' || !Array.isArray(b.strings) || !Array.isArray(b.events) || !Array.isArray(b.records)) {
    throw new Error(`not a trace batch of version ${TRACE_WIRE_VERSION}`);
  }
  const s = b.strings;
  const str = (i: unknown): string => {
    if (typeof i !== 'number' || typeof s[i] !== 'string') throw new Error(`string index ${String(i)} out of range`);
    return s[i]!;
  };
  const out: TraceRecord[] = [];
  for (const row of b.events) {
    if (!Array.isArray(row) || !EVENTS.has(row[0] as string) || row.length !== (row[0] === 'handled' ? 16 : 14)) throw new Error('malformed event row');
    const [event, at, actor, id, correlationId, causationId, kind, from, to, subject, size, outcome, durationMs, attempt] = row as EventRow;
    const base: EnvelopeRecord = {
      type: 'envelope',
      event: 'received',
      at,
      node: b.node,
      actor: str(actor),
      id,
      correlationId,
      causationId,
      traceparent: formatTraceparent(correlationId, id),
      kind: str(kind),
      from: str(from),
      to: str(to),
      subject: str(subject),
      size,
    };
    if (attempt > 0) base.attempt = attempt;
    const result = outcome === null ? undefined : str(outcome);
    if (event === 'handled') {
      // received at `at`; the turn from `at + start` for `durationMs`; replied when it ended, if the sender waited
      const [start, replied] = (row as unknown[]).slice(14) as [number | null, number];
      out.push({ ...base, event: 'received' });
      if (start !== null && durationMs !== null) {
        out.push({ ...base, event: 'turn.started', at: at + start });
        const finished: EnvelopeRecord = { ...base, event: 'turn.finished', at: at + start + durationMs, durationMs };
        if (result !== undefined) finished.outcome = result;
        out.push(finished);
      }
      if (replied === 1) {
        const r: EnvelopeRecord = { ...base, event: 'replied', at: at + (start ?? 0) + (durationMs ?? 0) };
        if (result !== undefined) r.outcome = result;
        out.push(r);
      }
      continue;
    }
    if (event === 'turn') {
      out.push({ ...base, event: 'turn.started' });
      const finished: EnvelopeRecord = { ...base, event: 'turn.finished', at: at + (durationMs ?? 0), durationMs: durationMs ?? 0 };
      if (result !== undefined) finished.outcome = result;
      out.push(finished);
      continue;
    }
    const r: EnvelopeRecord = { ...base, event };
    if (result !== undefined) r.outcome = result;
    if (durationMs !== null) r.durationMs = durationMs;
    out.push(r);
  }
  for (const r of b.records) out.push(r as TraceRecord);
  out.sort((x, y) => x.at - y.at);
  return { node: b.node, batch: b.batch, records: out };
}
