// The wire form of a batch of trace records on `<ns>.trace.<node>`: JSON, with envelope events
// as compact rows over a per-batch string table and times relative to the batch's `t0` (so
// recording every event costs little on the kernel thread), and other records as plain objects.
// `decodeTraceBatch` turns it back into full records (EnvelopeRecord with its traceparent); any
// JSON client can do the same.
//
//   { "v": 2, "node": "n1", "batch": 17, "t0": 1718000000000, "strings": ["echo/a", ...],
//     "events": [[event, dt, actor, kind, from, to, subject, id, correlationId, causationId, size, outcome, durationUs, attempt], ...],
//     "records": [{ "type": "decision", ... }, ...] }
//
// A row's time is `t0 + dt` (ms); durations are whole microseconds. `actor`, `kind`, `from`,
// `to`, `subject` and `outcome` are indexes into `strings`; `causationId`, `outcome` and
// `durationUs` are null when absent, `attempt` 0. The event `turn` stands for two: `turn.started`
// at `t0 + dt`, and `turn.finished` when it ended. The event `handled` (a message's handling at
// its receiver, two more fields `startUs` and `replied`) stands for `received` at `t0 + dt`, the
// turn from `startUs` after it (when `startUs` and `durationUs` are not null), and `replied`
// when it ended (when `replied` is 1). A message sent on the same node has a 17th field
// `sentUs`: its `sent` (by `from`) was `sentUs` before `received`, and has no row of its own.

import { formatTraceparent } from '../ids.js';
import type { EnvelopeEvent, EnvelopeRecord, TraceRecord } from './records.js';

export const TRACE_WIRE_VERSION = 2;

/** The wire's event names: the record events, `turn` (started + finished in one row) and `handled`. */
export type WireEvent = Exclude<EnvelopeEvent, 'turn.started' | 'turn.finished'> | 'turn' | 'handled';

export type EventRow = [WireEvent, number, number, number, number, number, number, string, string, string | null, number, number | null, number | null, number];
export type HandledRow = [...EventRow, number | null, 0 | 1] | [...EventRow, number | null, 0 | 1, number];

export interface TraceBatch {
  v: number;
  node: string;
  batch: number;
  t0: number;
  strings: string[];
  events: (EventRow | HandledRow)[];
  records: object[];
}

export interface DecodedBatch {
  node: string;
  batch: number;
  records: TraceRecord[];
}

/** Events and the length of their rows (`handled`: 17 with `sentUs`). */
export const ROW_LENGTH: Readonly<Record<WireEvent, number>> = { received: 14, sent: 14, replied: 14, failed: 14, retried: 14, 'dead-lettered': 14, turn: 14, handled: 16 };

function rowLengthOk(row: unknown[]): boolean {
  const n = ROW_LENGTH[row[0] as WireEvent];
  return row.length === n || (row[0] === 'handled' && row.length === n + 1);
}

/** Microseconds to milliseconds, as records give durations. */
function ms(us: number): number {
  return us / 1000;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown): v is number | null => v === null || isNum(v);

/** A plain record of a batch: an object with a type and a time. */
export function isRecord(r: unknown): r is TraceRecord {
  return typeof r === 'object' && r !== null && !Array.isArray(r) && typeof (r as { type?: unknown }).type === 'string' && isNum((r as { at?: unknown }).at);
}

/** A batch of records that are not envelope events (a test's, or a tool's): no rows, plain objects. */
export function recordsBatch(node: string, batch: number, records: readonly object[]): TraceBatch {
  return { v: TRACE_WIRE_VERSION, node, batch, t0: 0, strings: [], events: [], records: [...records] };
}

/** A batch's bytes in the compact form the kernel writes (its members in the order of TraceBatch). */
export function encodeTraceBatch(b: TraceBatch): Uint8Array {
  const text = `{"v":${b.v},"node":${JSON.stringify(b.node)},"batch":${b.batch},"t0":${b.t0},"strings":${JSON.stringify(b.strings)},"events":${JSON.stringify(b.events)},"records":${JSON.stringify(b.records)}}`;
  return new TextEncoder().encode(text);
}

/** Reads a batch (bytes, text or parsed JSON); throws a plain Error naming the problem when it is not one. */
export function decodeTraceBatch(input: Uint8Array | string | unknown): DecodedBatch {
  const value: unknown = input instanceof Uint8Array ? JSON.parse(new TextDecoder().decode(input)) : typeof input === 'string' ? JSON.parse(input) : input;
  if (typeof value !== 'object' || value === null) throw new Error('a trace batch is a JSON object');
  const b = value as Partial<TraceBatch>;
  if (b.v !== TRACE_WIRE_VERSION || typeof b.node !== 'string' || !Number.isSafeInteger(b.batch) || !isNum(b.t0) || !Array.isArray(b.strings) || !Array.isArray(b.events) || !Array.isArray(b.records)) {
    throw new Error(`not a trace batch of version ${TRACE_WIRE_VERSION}`);
  }
  const s = b.strings;
  const t0 = b.t0;
  const str = (i: unknown): string => {
    if (typeof i !== 'number' || typeof s[i] !== 'string') throw new Error(`string index ${String(i)} out of range`);
    return s[i]!;
  };
  const out: TraceRecord[] = [];
  for (const row of b.events) {
    if (!Array.isArray(row) || !rowLengthOk(row)) throw new Error('malformed event row');
    const [event, dt, actor, kind, from, to, subject, id, correlationId, causationId, size, outcome, durationUs, attempt] = row as EventRow;
    if (!isNum(dt) || typeof id !== 'string' || typeof correlationId !== 'string' || !(causationId === null || typeof causationId === 'string') || !isNum(size) || !isNumOrNull(durationUs) || !isNum(attempt)) {
      throw new Error('malformed event row');
    }
    const at = t0 + dt;
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
      const start = row[14] as unknown;
      const replied = row[15] as unknown;
      const sentUs = row.length === 17 ? (row[16] as unknown) : undefined;
      if (!isNumOrNull(start) || (replied !== 0 && replied !== 1) || !(sentUs === undefined || isNum(sentUs))) throw new Error('malformed event row');
      if (sentUs !== undefined) out.push({ ...base, event: 'sent', actor: base.from, at: at - ms(sentUs) });
      out.push({ ...base, event: 'received' });
      const startedAt = at + (start === null ? 0 : ms(start));
      const endedAt = startedAt + (durationUs === null ? 0 : ms(durationUs));
      if (start !== null && durationUs !== null) {
        out.push({ ...base, event: 'turn.started', at: startedAt });
        const finished: EnvelopeRecord = { ...base, event: 'turn.finished', at: endedAt, durationMs: ms(durationUs) };
        if (result !== undefined) finished.outcome = result;
        out.push(finished);
      }
      if (replied === 1) {
        const r: EnvelopeRecord = { ...base, event: 'replied', at: endedAt };
        if (result !== undefined) r.outcome = result;
        out.push(r);
      }
      continue;
    }
    if (event === 'turn') {
      out.push({ ...base, event: 'turn.started' });
      const finished: EnvelopeRecord = { ...base, event: 'turn.finished', at: at + ms(durationUs ?? 0), durationMs: ms(durationUs ?? 0) };
      if (result !== undefined) finished.outcome = result;
      out.push(finished);
      continue;
    }
    const r: EnvelopeRecord = { ...base, event };
    if (result !== undefined) r.outcome = result;
    if (durationUs !== null) r.durationMs = ms(durationUs);
    out.push(r);
  }
  for (const r of b.records) {
    if (!isRecord(r)) throw new Error('a record is an object with a type and a time (at)');
    out.push(r);
  }
  out.sort((x, y) => x.at - y.at);
  return { node: b.node, batch: b.batch!, records: out };
}
