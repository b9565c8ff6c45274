// The tracer: appends every trace batch the kernels send on `<ns>.trace.>` to a hash-chained log
// file, each batch once (a re-sent one is acknowledged again, not written again), and acknowledges
// it only once written; it answers queries over its log (show, tail, stats) on its direct subject.

import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { defineActor, type ActorContext } from 'autonomy-os/actor';
import { aosError } from '../runtime/errors/aos-error.js';
import { FileLog } from '../runtime/trace/file-log.js';
import { decodeTraceBatch, type DecodedBatch } from '../runtime/trace/trace-codec.js';
import { answerQuery, isBatchMark, recordsOfLog, traceQuerySchema, type BatchMark, type TraceAnswer } from '../runtime/trace/trace-query.js';

/** What the tracer is spawned with (`config`). */
export interface TracerConfig {
  /** The log file (created with its directory if missing; relative to the node's working directory). */
  file: string;
}

export interface TracerState {
  /** The log file, absolute. */
  file: string;
  /** Per node, the batches appended: every number up to `upTo`, and those above it in `above`. A
   *  re-sent batch (the kernel re-sends the oldest unacknowledged first) is found here. */
  seen: Record<string, Seen>;
}

export interface Seen {
  upTo: number;
  above: number[];
}

/** Numbers above the watermark kept per node; past it the watermark moves up (a gap there is a batch the node dropped). */
const SEEN_WINDOW = 1024;

function wasSeen(s: Seen | undefined, batch: number): boolean {
  return s !== undefined && (batch <= s.upTo || s.above.includes(batch));
}

function remember(s: Seen | undefined, batch: number): Seen {
  // A node's first batch here need not be its oldest (older ones may be re-sent later): start below all.
  const above = [...(s?.above ?? []), batch].sort((a, b) => a - b);
  let upTo = s?.upTo ?? -1;
  while (above.length > 0 && (above[0] === upTo + 1 || above.length > SEEN_WINDOW)) upTo = above.shift()!;
  return { upTo, above };
}

const configSchema = z.object({ file: z.string().min(1) });

/** A batch in its wire form (trace-codec.ts), decoded: a batch that does not decode fails the input schema, not the tracer. */
const batchInput = z
  .object({ v: z.number(), node: z.string(), batch: z.number(), strings: z.array(z.string()), events: z.array(z.unknown()), records: z.array(z.unknown()) })
  .transform((raw, ctx): { op: 'batch'; batch: DecodedBatch } => {
    try {
      return { op: 'batch', batch: decodeTraceBatch(raw) };
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });

const queryInput = z.object({ op: z.literal('query'), query: traceQuerySchema });

/** How far from its end the log is read at start for the last batch of each node. */
const MARK_SCAN_BYTES = 4 * 1024 * 1024;

// One FileLog per file per worker thread. Turns of the tracer may run in any worker: FileLog.append
// first catches up with entries another thread's FileLog wrote (file-log.ts, resume).
const logs = new Map<string, FileLog>();

function logOf(file: string): FileLog {
  let log = logs.get(file);
  if (log === undefined) {
    log = FileLog.open(file);
    logs.set(file, log);
  }
  return log;
}

export default defineActor({
  input: z.union([queryInput, batchInput]),
  init: (ctx): TracerState => {
    const config = configSchema.safeParse(ctx.config);
    if (!config.success) throw aosError('ERR_CONFIG', `${ctx.self} needs config {file: string}`, { actorId: ctx.self });
    const file = resolve(config.data.file);
    logOf(file); // verifies the log: a broken one fails the spawn (ERR_TRACE_LOG), not the first batch
    return { file, seen: lastBatches(file) };
  },
  handle: (state, msg, ctx) => {
    if (msg.op === 'query') {
      replyFitting(ctx, answerQuery(recordsOfLog(readFileSync(state.file, 'utf8')), msg.query));
      return state;
    }
    const { node, batch, records } = msg.batch;
    if (wasSeen(state.seen[node], batch)) {
      ctx.reply({ ok: true, appended: 0, duplicate: true });
      return state;
    }
    const mark: BatchMark = { type: 'trace', event: 'batch', at: Date.now(), node, batch, records: records.length, tracer: ctx.self };
    const log = logOf(state.file);
    try {
      log.append([...records, mark]);
    } catch (err) {
      // This FileLog refuses from now on; the next turn (after the restart) opens the file afresh.
      logs.delete(state.file);
      throw err;
    }
    ctx.reply({ ok: true, appended: records.length });
    return { ...state, seen: { ...state.seen, [node]: remember(state.seen[node], batch) } };
  },
});

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

/** Per node, the batches the log's batch marks name, from the log's last MARK_SCAN_BYTES (re-sends are of recent batches). */
function lastBatches(file: string): Record<string, Seen> {
  const fd = openSync(file, 'r');
  let text: string;
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - MARK_SCAN_BYTES);
    const buf = Buffer.alloc(size - start);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    text = buf.toString('utf8', 0, got);
    // A scan that starts mid-file starts mid-line: that line is not read.
    if (start > 0) text = text.slice(text.indexOf('\n') + 1);
  } finally {
    closeSync(fd);
  }
  const seen: Record<string, Seen> = {};
  for (const r of recordsOfLog(text)) if (isBatchMark(r) && !wasSeen(seen[r.node], r.batch)) seen[r.node] = remember(seen[r.node], r.batch);
  return seen;
}
