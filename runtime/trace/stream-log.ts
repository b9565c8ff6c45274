// The trace log in a JetStream stream, for a cluster (format: hash-chain.ts; one entry per
// message, and an entry's seq is its message's stream sequence). The stream holds one subject,
// `<ns>.tracelog.<stream>` (not under `<ns>.trace.>`, where the kernels publish), file storage.
// Several tracers (one per node) append to it and keep ONE chain: each publishes with the last
// stream sequence it knows as the expected one; JetStream refuses the message if another tracer
// appended first, and the tracer reads the last entry again, chains after it and retries. A batch
// re-sent to another tracer is stored once: its Nats-Msg-Id is `<node>:<batch>` (within
// JetStream's duplicate window), and the node remembers the batches in the stream (rebuilt when it
// opens the stream; seen-batches.ts), so a batch re-sent later is not stored twice either. Opening
// verifies the whole stream and refuses a broken one (ERR_TRACE_LOG), as a file log is refused.

import { type JetStreamClient, type JetStreamManager, type NatsConnection, RetentionPolicy, StorageType } from 'nats';
import { aosError } from '../errors/aos-error.js';
import type { z } from 'zod';
import type { ToolRegistration, ToolSpec } from '../tools/tool-registry.js';
import { LogWriter, type ChainState } from './hash-chain.js';
import { parseEntry, verifyLog, type ChainProblem, type VerifyReport } from './verify-log.js';
import type { TraceRecord } from './records.js';
import { answerQuery, recordsOfEntry, type TraceAnswer } from './trace-query.js';
import { scanTraceBatch } from './trace-scan.js';
import { remember, seenIn, wasSeen, type Seen } from './seen-batches.js';
import { appendArgs, queryArgs, STREAM_NAME, TRACE_APPEND_TOOL, TRACE_QUERY_TOOL, type AppendResult } from './tracer-tools.js';

/** The one subject of a trace stream. */
export function streamSubject(namespace: string, stream: string): string {
  return `${namespace}.tracelog.${stream}`;
}

/** A stream's entries in order: each message's sequence and text; and its last sequence (deleted messages too). */
export interface StreamContents {
  stream: string;
  lastSeq: number;
  entries: { seq: number; text: string }[];
}

export type StreamVerifyReport = VerifyReport & { stream: string };

const JS_STREAM_NOT_FOUND = 10059;
const JS_NO_MESSAGE = 10037;
const JS_WRONG_LAST_SEQUENCE = 10071;
/** Appends lost to other tracers before one gets through: past it, something is wrong. */
const MAX_ATTEMPTS = 64;

const decoder = new TextDecoder();

function apiCode(err: unknown): number | undefined {
  return (err as { api_error?: { err_code?: number } }).api_error?.err_code;
}

function checkName(stream: string): void {
  if (!STREAM_NAME.test(stream)) throw aosError('ERR_CONFIG', `a trace stream name is 1 to 64 letters, digits, - or _, got ${JSON.stringify(stream)}`, { stream });
}

/** Every message of a stream, in order (an ordered consumer). ERR_TRACE_LOG when there is no such stream. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StreamContents> {
  checkName(stream);
  const jsm = await nc.jetstreamManager();
  let lastSeq: number;
  let messages: number;
  try {
    ({ last_seq: lastSeq, messages } = (await jsm.streams.info(stream)).state);
  } catch (err) {
    if (apiCode(err) === JS_STREAM_NOT_FOUND) throw aosError('ERR_TRACE_LOG', `there is no trace stream ${stream}`, { stream }, err);
    throw aosError('ERR_TRACE_LOG', `cannot read the trace stream ${stream}`, { stream }, err);
  }
  const entries: StreamContents['entries'] = [];
  if (messages === 0) return { stream, lastSeq, entries };
  const consumer = await nc.jetstream().consumers.get(stream);
  const iter = await consumer.consume({ max_messages: 256 });
  try {
    for await (const m of iter) {
      entries.push({ seq: m.seq, text: decoder.decode(m.data) });
      if (m.info.pending === 0 || m.seq >= lastSeq) break;
    }
  } finally {
    iter.stop();
  }
  return { stream, lastSeq, entries };
}

/**
 * Verifies a stream's entries as verifyLog does a file's lines, each at its stream sequence; and
 * its tail: entries deleted after the last one left are missing against the stream's last sequence.
 */
export function verifyStreamContents(c: StreamContents): StreamVerifyReport {
  const report = verifyLog(
    c.entries.map((e) => e.text),
    { places: c.entries.map((e) => e.seq) },
  );
  if (report.ok && report.tail.seq < c.lastSeq) {
    const problem: ChainProblem = {
      kind: 'truncated',
      line: c.lastSeq,
      seq: report.tail.seq + 1,
      detail: `the stream's last sequence is ${c.lastSeq}; its last entry is seq ${report.tail.seq}: the messages after it were deleted`,
    };
    return { ok: false, tail: report.tail, problem, stream: c.stream };
  }
  return { ...report, stream: c.stream };
}

export async function verifyStream(nc: NatsConnection, stream: string): Promise<StreamVerifyReport> {
  return verifyStreamContents(await readStream(nc, stream));
}

function brokenStream(stream: string, p: ChainProblem): Error {
  return aosError('ERR_TRACE_LOG', `the trace stream ${stream} is broken, ${p.kind} at stream sequence ${p.line} (seq ${p.seq ?? '-'}): ${p.detail}; nothing is appended to it`, {
    stream,
    kind: p.kind,
    line: p.line,
    seq: p.seq,
    ...(p.entry === undefined ? {} : { entry: p.entry }),
  });
}

export interface StreamLogOptions {
  checkpointEvery?: number;
  now?: () => number;
}

/** One trace stream, appended to by this node's tracer (several nodes' tracers share it). */
export class StreamLog {
  /** The last entry this StreamLog knows of; undefined when another tracer may have appended since. */
  private last: ChainState | undefined;
  /** Per node, the batches in the stream: those there when it was opened, and those appended here since. */
  private seen: Record<string, Seen> = {};

  private constructor(
    readonly stream: string,
    private readonly subject: string,
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly options: StreamLogOptions,
  ) {}

  /** Opens a trace stream, creating it if missing; ERR_TRACE_LOG when it does not verify or holds other subjects. */
  static async open(nc: NatsConnection, namespace: string, stream: string, options: StreamLogOptions = {}): Promise<StreamLog> {
    checkName(stream);
    const subject = streamSubject(namespace, stream);
    const jsm = await nc.jetstreamManager();
    let subjects: string[] | undefined;
    try {
      subjects = (await jsm.streams.info(stream)).config.subjects ?? [];
    } catch (err) {
      if (apiCode(err) !== JS_STREAM_NOT_FOUND) throw aosError('ERR_TRACE_LOG', `cannot read the trace stream ${stream}`, { stream }, err);
    }
    if (subjects === undefined) {
      try {
        // Two nodes creating it at once with the same configuration both succeed.
        await jsm.streams.add({ name: stream, subjects: [subject], storage: StorageType.File, retention: RetentionPolicy.Limits });
      } catch (err) {
        throw aosError('ERR_TRACE_LOG', `cannot create the trace stream ${stream}`, { stream, subject }, err);
      }
    } else if (!subjects.includes(subject)) {
      throw aosError('ERR_TRACE_LOG', `the stream ${stream} exists and does not hold ${subject}: not a trace stream of this namespace`, { stream, subject });
    }
    const log = new StreamLog(stream, subject, nc, jsm, nc.jetstream(), options);
    const contents = await readStream(nc, stream);
    const report = verifyStreamContents(contents);
    if (!report.ok) throw brokenStream(stream, report.problem);
    log.last = report.tail;
    log.seen = seenIn(contents.entries.map((e) => e.text));
    return log;
  }

  /** The chain after the stream's last entry (read from the stream). */
  private async readLast(): Promise<ChainState> {
    const lastSeq = (await this.jsm.streams.info(this.stream)).state.last_seq;
    if (lastSeq === 0) return { seq: 0, hash: '0'.repeat(64), records: 0, batches: 0, checkpoints: 0 };
    let text: string;
    try {
      text = decoder.decode((await this.jsm.streams.getMessage(this.stream, { seq: lastSeq })).data);
    } catch (err) {
      if (apiCode(err) === JS_NO_MESSAGE) throw brokenStream(this.stream, { kind: 'truncated', line: lastSeq, seq: lastSeq, detail: `its last message, sequence ${lastSeq}, was deleted` });
      throw err;
    }
    const e = parseEntry(text);
    if (typeof e === 'string' || e.seq !== lastSeq) {
      throw brokenStream(this.stream, { kind: 'malformed', line: lastSeq, seq: lastSeq, detail: typeof e === 'string' ? e : `its entry says seq ${e.seq}` });
    }
    const records = 'batch' in e.body ? e.body.count : e.body.checkpoint.count;
    return { seq: e.seq, hash: e.hash, records, batches: 0, checkpoints: 0 };
  }

  /**
   * Appends a batch (checked again here: the kernel trusts no worker) as the tracer `tracer`:
   * its entry, then a checkpoint when one is due and no other tracer appended in between.
   */
  async append(bytes: Uint8Array, tracer: string): Promise<AppendResult> {
    const scanned = scanTraceBatch(bytes);
    // Past JetStream's duplicate window, a re-sent batch is found here (seq 0: not stored again).
    if (wasSeen(this.seen[scanned.node], scanned.batch)) return { seq: 0, duplicate: true };
    const msgID = `${scanned.node}:${scanned.batch}`;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const last = (this.last ??= await this.readLast());
      const writer = new LogWriter({ ...this.options, from: last });
      const { lines, chains } = writer.appendLines({ bytes, records: scanned.records, tracer });
      let pa;
      try {
        pa = await this.js.publish(this.subject, lines[0]!, { msgID, expect: { lastSequence: last.seq } });
      } catch (err) {
        this.last = undefined;
        if (apiCode(err) === JS_WRONG_LAST_SEQUENCE) continue; // another tracer appended first
        throw aosError('ERR_TRACE_LOG', `cannot append to the trace stream ${this.stream}`, { stream: this.stream }, err);
      }
      this.seen[scanned.node] = remember(this.seen[scanned.node], scanned.batch);
      if (pa.duplicate) {
        this.last = undefined;
        return { seq: pa.seq, duplicate: true };
      }
      this.last = chains[0];
      if (lines.length > 1) {
        try {
          await this.js.publish(this.subject, lines[1]!, { expect: { lastSequence: pa.seq } });
          this.last = chains[1];
        } catch (err) {
          // Another tracer's entry came first: this checkpoint no longer follows its batch, and is left out.
          this.last = undefined;
          if (apiCode(err) !== JS_WRONG_LAST_SEQUENCE) throw aosError('ERR_TRACE_LOG', `cannot append to the trace stream ${this.stream}`, { stream: this.stream }, err);
        }
      }
      return { seq: pa.seq, duplicate: false };
    }
    throw aosError('ERR_TRACE_LOG', `could not append to the trace stream ${this.stream}: ${MAX_ATTEMPTS} attempts lost to other tracers`, { stream: this.stream });
  }

  /** Every record of the stream, each batch followed by its mark (queries read them). */
  async records(): Promise<TraceRecord[]> {
    const out: TraceRecord[] = [];
    for (const e of (await readStream(this.nc, this.stream)).entries) recordsOfEntry(e.text, out);
    return out;
  }
}

/** The trace streams open on a node, and the tools its tracer reaches them with. */
export class TraceStreams {
  private readonly logs = new Map<string, StreamLog>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly namespace: string,
    private readonly register: (name: string, spec: ToolRegistration) => void,
  ) {}

  /** Opens a stream (creating it if missing) for this node's tracer; the tools are registered with the first. */
  async open(stream: string): Promise<void> {
    if (this.logs.has(stream)) return;
    const log = await StreamLog.open(this.nc, this.namespace, stream);
    if (this.logs.size === 0) {
      const append: ToolSpec<z.infer<typeof appendArgs>, AppendResult> = {
        input: appendArgs,
        description: 'appends a trace batch to a trace stream (the tracer)',
        run: (args, ctx) => this.log(args.stream).append(args.bytes, ctx.actor.id),
      };
      const query: ToolSpec<z.infer<typeof queryArgs>, TraceAnswer> = {
        input: queryArgs,
        description: 'answers a trace query over a trace stream (the tracer)',
        run: async (args) => answerQuery(await this.log(args.stream).records(), args.query),
      };
      this.register(TRACE_APPEND_TOOL, append as ToolRegistration);
      this.register(TRACE_QUERY_TOOL, query as ToolRegistration);
    }
    this.logs.set(stream, log);
  }

  private log(stream: string): StreamLog {
    const log = this.logs.get(stream);
    if (log === undefined) throw aosError('ERR_TRACE_LOG', `the trace stream ${stream} is not open on this node`, { stream });
    return log;
  }
}
