// The tracer: appends every trace batch the kernels send on `<ns>.trace.>` to a hash-chained log,
// a file or (for a cluster) a JetStream stream, each batch once (a re-sent one is acknowledged
// again, not written again), as the bytes it came as (checked, not decoded: trace-scan.ts), and
// acknowledges it only once written; it answers queries over its log (show, tail, stats) on its
// direct subject. A stream is reached through the kernel's tools `trace.append` and `trace.query`
// (a worker holds no NATS connection: stream-log.ts), opened by startTracer.

import { resolve } from 'node:path';
import { z } from 'zod';
import { defineActor, type ActorContext, type RawInput } from 'autonomy-os/actor';
import { decodeValue } from '../runtime/envelope.js';
import { aosError } from '../runtime/errors/aos-error.js';
import { FileLog, type SegmentsRemoved } from '../runtime/trace/file-log.js';
import { remember, seenIn, wasSeen, type Seen } from '../runtime/trace/seen-batches.js';
import { scanTraceBatch, type ScannedBatch } from '../runtime/trace/trace-scan.js';
import { answerFileQuery, eachLineBackward } from '../runtime/trace/log-query.js';
import { traceQuerySchema, type TraceAnswer, type TraceQuery } from '../runtime/trace/trace-query.js';
import { STREAM_NAME, TRACE_ANCHOR_TOOL, TRACE_APPEND_TOOL, TRACE_QUERY_TOOL, type AppendResult } from '../runtime/trace/tracer-tools.js';

/** What the tracer is spawned with (`config`): exactly one of `file` and `stream`. */
export interface TracerConfig {
  /** The log file (created with its directory if missing; relative to the node's working directory). */
  file?: string;
  /** A file log past this size becomes a segment, and a new file continues its chain (log-segments.ts). */
  rotateBytes?: number;
  /** With rotateBytes: the newest segments kept; older ones are deleted as new ones start (default: all kept). */
  keepSegments?: number;
  /** With rotateBytes: segments whose last entry is older than this many days are deleted (default: no limit of age). */
  keepDays?: number;
  /** With file: the log's head is anchored in the namespace's trace anchors stream at most this often (opened on the node first: startTracer does it). */
  anchorEveryMs?: number;
  /** The JetStream stream (opened on the node first: startTracer does it). */
  stream?: string;
}

export interface TracerState {
  /** The log file, absolute (a file log). */
  file?: string;
  rotateBytes?: number;
  keepSegments?: number;
  keepDays?: number;
  anchorEveryMs?: number;
  /** The stream (a stream log). */
  stream?: string;
  /** Per node, the batches appended: every number up to `upTo`, and the runs above it in `above`. A
   *  re-sent batch (the kernel re-sends the oldest unacknowledged first) is found here. */
  seen: Record<string, Seen>;
}

const configSchema = z.union([
  z
    .object({
      file: z.string().min(1),
      rotateBytes: z.number().int().min(1).optional(),
      keepSegments: z.number().int().min(0).optional(),
      keepDays: z.number().positive().finite().optional(),
      anchorEveryMs: z.number().int().min(1).optional(),
      stream: z.undefined().optional(),
    })
    .refine((c) => (c.keepSegments === undefined && c.keepDays === undefined) || c.rotateBytes !== undefined, { message: 'keepSegments and keepDays go with rotateBytes' }),
  z.object({
    stream: z.string().regex(STREAM_NAME),
    file: z.undefined().optional(),
    rotateBytes: z.undefined().optional(),
    keepSegments: z.undefined().optional(),
    keepDays: z.undefined().optional(),
    anchorEveryMs: z.undefined().optional(),
  }),
]);

const queryInput = z.object({ op: z.literal('query'), query: traceQuerySchema });

type TracerInput = { op: 'batch'; bytes: Uint8Array; scanned: ScannedBatch } | { op: 'query'; query: TraceQuery };

/** A batch starts so (trace-codec.ts); anything else is a query. */
const BATCH_START = new TextEncoder().encode('{"v":');

function looksLikeBatch(raw: RawInput): boolean {
  return raw.format === 'json' && BATCH_START.every((c, i) => raw.bytes[i] === c);
}

/**
 * The tracer gets each message's bytes (rawInput): a batch is checked where it lies and logged as
 * it came; a batch that does not check, or a query that does not parse, fails the input schema
 * (ERR_INPUT_SCHEMA), not the tracer.
 */
const input = z.custom<RawInput>((v) => typeof v === 'object' && v !== null && (v as RawInput).bytes instanceof Uint8Array).transform((raw, ctx): TracerInput => {
  try {
    if (looksLikeBatch(raw)) return { op: 'batch', bytes: raw.bytes, scanned: scanTraceBatch(raw.bytes) };
    const q = queryInput.safeParse(decodeValue(raw.bytes, raw.format));
    if (q.success) return q.data;
    for (const issue of q.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
  return z.NEVER;
});

/** How far from its end the log is read at start for the last batch of each node. */
const MARK_SCAN_BYTES = 4 * 1024 * 1024;

// One FileLog per file per worker thread. Turns of the tracer may run in any worker: FileLog.append
// first catches up with entries another thread's FileLog wrote (file-log.ts, resume).
const logs = new Map<string, FileLog>();

/** Per file, what retention (keepSegments, keepDays) deleted: logged by the turn that opened the log or appended. */
const removals = new Map<string, SegmentsRemoved[]>();

function logOf(state: TracerState): FileLog {
  const file = state.file!;
  let log = logs.get(file);
  if (log === undefined) {
    const { rotateBytes, keepSegments, keepDays } = state;
    const onSegmentsRemoved = (r: SegmentsRemoved): void => void removals.set(file, [...(removals.get(file) ?? []), r]);
    log = FileLog.open(file, {
      ...(rotateBytes === undefined ? {} : { rotateBytes }),
      ...(keepSegments === undefined ? {} : { keepSegments }),
      ...(keepDays === undefined ? {} : { keepDays }),
      onSegmentsRemoved,
    });
    logs.set(file, log);
  }
  return log;
}

function logRemovals(state: TracerState, ctx: ActorContext): void {
  const file = state.file!;
  const reports = removals.get(file);
  if (reports === undefined) return;
  removals.delete(file);
  for (const { removed, failed, deletedBefore, by } of reports) {
    const where = { file, by, deletedBefore, ...(state.keepSegments === undefined ? {} : { keepSegments: state.keepSegments }), ...(state.keepDays === undefined ? {} : { keepDays: state.keepDays }) };
    if (removed.length > 0) ctx.log.info({ ...where, removed }, 'trace log: retention deleted the oldest segments (marked in the chain); verify checks the log from the oldest one left');
    if (failed.length > 0) ctx.log.error({ ...where, failed }, 'trace log: old segments could not be deleted: retention tries them again later');
  }
}

export default defineActor({
  input,
  rawInput: true,
  init: (ctx): TracerState => {
    const config = configSchema.safeParse(ctx.config);
    if (!config.success) throw aosError('ERR_CONFIG', `${ctx.self} needs config {file: string} or {stream: name}`, { actorId: ctx.self });
    if (config.data.stream !== undefined) return { stream: config.data.stream, seen: {} };
    const file = resolve(config.data.file);
    const { rotateBytes, keepSegments, keepDays, anchorEveryMs } = config.data;
    const state: TracerState = {
      file,
      ...(rotateBytes === undefined ? {} : { rotateBytes }),
      ...(keepSegments === undefined ? {} : { keepSegments }),
      ...(keepDays === undefined ? {} : { keepDays }),
      ...(anchorEveryMs === undefined ? {} : { anchorEveryMs }),
      seen: {},
    };
    logOf(state); // verifies the log: a broken one fails the spawn (ERR_TRACE_LOG), not the first batch
    logRemovals(state, ctx); // opening it applied retention
    return { ...state, seen: lastBatches(file) };
  },
  handle: async (state, msg, ctx) => {
    if (msg.op === 'query') {
      const answer = state.stream !== undefined ? await ctx.call<TraceAnswer>(TRACE_QUERY_TOOL, { stream: state.stream, query: msg.query }) : answerFileQuery(state.file!, msg.query);
      replyFitting(ctx, answer);
      return state;
    }
    const { node, batch, records } = msg.scanned;
    if (wasSeen(state.seen[node], batch)) {
      ctx.reply({ ok: true, appended: 0, duplicate: true });
      return state;
    }
    if (state.stream !== undefined) {
      // JetStream keeps it once across tracers (its Nats-Msg-Id); the kernel is answered once it is stored.
      const r = await ctx.call<AppendResult>(TRACE_APPEND_TOOL, { stream: state.stream, bytes: msg.bytes });
      ctx.reply(r.duplicate ? { ok: true, appended: 0, duplicate: true } : { ok: true, appended: records });
    } else {
      const log = logOf(state);
      try {
        log.append({ bytes: msg.bytes, records, tracer: ctx.self });
      } catch (err) {
        // This FileLog refuses from now on; the next turn (after the restart) opens the file afresh.
        logs.delete(state.file!);
        throw err;
      } finally {
        logRemovals(state, ctx);
      }
      ctx.reply({ ok: true, appended: records });
      if (state.anchorEveryMs !== undefined) await anchor(state, log, ctx);
    }
    return { ...state, seen: { ...state.seen, [node]: remember(state.seen[node], batch) } };
  },
});

/** Per file, when this thread's tracer turns last tried to anchor its head. */
const anchoredAt = new Map<string, number>();

/**
 * Anchors the log's head when anchorEveryMs has passed since the last try. A failed anchor does
 * not fail the append: it is logged, and tried again an interval later (not at once: a denied
 * call is itself recorded, and retrying at every append would keep the tracer busy with its own
 * records). Anchors are a check on the log, not part of it.
 */
async function anchor(state: TracerState, log: FileLog, ctx: ActorContext): Promise<void> {
  const file = state.file!;
  const now = Date.now();
  if (now - (anchoredAt.get(file) ?? -Infinity) < state.anchorEveryMs!) return;
  anchoredAt.set(file, now);
  const head = log.head;
  try {
    await ctx.call(TRACE_ANCHOR_TOOL, { log: file, seq: head.seq, hash: head.hash, records: log.records });
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    ctx.log.error({ file, seq: head.seq, code: e.code, reason: e.message }, 'trace log: its head could not be anchored; tried again after anchorEveryMs');
  }
}

/** Replies with the answer; when it is too large for one message, with fewer records (show keeps the first, tail the last) and `truncated: true`. */
function replyFitting(ctx: ActorContext, answer: TraceAnswer): void {
  let a = answer;
  let truncated = false;
  for (;;) {
    try {
      ctx.reply(truncated ? { ok: true, ...a, truncated } : { ok: true, ...a });
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ERR_PAYLOAD_TOO_LARGE' || a.kind === 'stats' || a.records.length === 0) throw err;
      const n = a.records.length;
      a = { ...a, records: a.kind === 'show' ? a.records.slice(0, Math.floor(n / 2)) : a.records.slice(n - Math.floor(n / 2)) };
      truncated = true;
    }
  }
}

/** Per node, the batches of the log's entries, from its last MARK_SCAN_BYTES (re-sends are of recent batches), in its segments too. */
function lastBatches(file: string): Record<string, Seen> {
  const lines: string[] = [];
  let bytes = 0;
  eachLineBackward(file, (line) => {
    lines.push(line);
    bytes += line.length + 1;
    return bytes < MARK_SCAN_BYTES;
  });
  return seenIn(lines.reverse());
}
