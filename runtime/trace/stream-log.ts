// The trace log in a JetStream stream, for a cluster (format: hash-chain.ts; one entry per
// message, and an entry's seq is its message's stream sequence). The stream holds one subject,
// `<ns>.tracelog.<stream>` (not under `<ns>.trace.>`, where the kernels publish), file storage.
// Several tracers (one per node) append to it and keep ONE chain: each publishes with the last
// stream sequence it knows as the expected one; JetStream refuses the message if another tracer
// appended first, and the tracer reads the last entry again, chains after it and retries. A batch
// re-sent to another tracer is stored once: its Nats-Msg-Id is `<node>:<batch>` (within
// JetStream's duplicate window), and the node remembers the batches in the stream (rebuilt when it
// opens the stream; seen-batches.ts), so a batch re-sent later is not stored twice either. Opening
// verifies the whole stream, a message at a time, and refuses a broken one (ERR_TRACE_LOG), as a
// file log is refused. The tools that reach it from a tracer: trace-streams.ts.

import { type JetStreamClient, type JetStreamManager, type NatsConnection, RetentionPolicy, StorageType } from 'nats';
import { aosError } from '../errors/aos-error.js';
import { EMPTY_CHAIN, LogWriter, type ChainState } from './hash-chain.js';
import { parseEntry, type ChainProblem, type VerifyReport } from './verify-log.js';
import { scanTraceBatch } from './trace-scan.js';
import { noteSeen, remember, wasSeen, type Seen } from './seen-batches.js';
import { PartVerifier, type ReadProgress } from './verify-file.js';
import { STREAM_NAME, type AppendResult } from './tracer-tools.js';

/** The one subject of a trace stream. */
export function streamSubject(namespace: string, stream: string): string {
  return `${namespace}.tracelog.${stream}`;
}

/** A stream's entries in order: each message's sequence and text; and its last sequence (deleted messages too). */
export interface StreamContents {
  stream: string;
  lastSeq: number;
  entries: { seq: number; text: string }[];
  /** The stream has limits, so its oldest messages may have gone by them (it is checked from the oldest one left). */
  limited?: boolean;
}

/** `startsAt`: the seq of the oldest entry left, when the stream's limits removed those before it. */
export type StreamVerifyReport = VerifyReport & { stream: string; startsAt?: number };

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

interface StreamState {
  first_seq: number;
  last_seq: number;
  messages: number;
  /** The stream has limits (age, messages, bytes): its oldest messages go when they are reached. */
  limited: boolean;
}

/** A stream's state; ERR_TRACE_LOG when there is no such stream. */
async function streamState(jsm: JetStreamManager, stream: string): Promise<StreamState> {
  checkName(stream);
  try {
    const { config, state } = await jsm.streams.info(stream);
    // JetStream's "no limit" is -1 (0 for the age); a limit on messages per subject is one on messages (one subject).
    const limited = config.max_age > 0 || config.max_msgs > 0 || config.max_bytes > 0 || config.max_msgs_per_subject > 0;
    return { first_seq: state.first_seq, last_seq: state.last_seq, messages: state.messages, limited };
  } catch (err) {
    if (apiCode(err) === JS_STREAM_NOT_FOUND) throw aosError('ERR_TRACE_LOG', `there is no trace stream ${stream}`, { stream }, err);
    throw aosError('ERR_TRACE_LOG', `cannot read the trace stream ${stream}`, { stream }, err);
  }
}

/**
 * Calls `fn` with every message of a stream, in order (an ordered consumer), a message at a time,
 * until it returns false; resolves with the stream's state before the read (`known`: read already).
 */
export async function forEachEntry(nc: NatsConnection, stream: string, fn: (entry: { seq: number; text: string }) => boolean | void, known?: StreamState): Promise<StreamState> {
  const state = known ?? (await streamState(await nc.jetstreamManager(), stream));
  const { last_seq: lastSeq, messages } = state;
  if (messages === 0) return state;
  const consumer = await nc.jetstream().consumers.get(stream);
  const iter = await consumer.consume({ max_messages: 256 });
  try {
    for await (const m of iter) {
      if (fn({ seq: m.seq, text: decoder.decode(m.data) }) === false || m.info.pending === 0 || m.seq >= lastSeq) break;
    }
  } finally {
    iter.stop();
  }
  return state;
}

/** Calls `fn` with a stream's messages from the last one back (deleted ones skipped), one read each, until it returns false. */
export async function forEachEntryBackward(nc: NatsConnection, stream: string, fn: (text: string) => boolean): Promise<void> {
  const jsm = await nc.jetstreamManager();
  const { first_seq: firstSeq, last_seq: lastSeq, messages } = await streamState(jsm, stream);
  if (messages === 0) return;
  for (let seq = lastSeq; seq >= firstSeq; seq--) {
    let data: Uint8Array;
    try {
      data = (await jsm.streams.getMessage(stream, { seq })).data;
    } catch (err) {
      if (apiCode(err) === JS_NO_MESSAGE) continue;
      throw aosError('ERR_TRACE_LOG', `cannot read the trace stream ${stream}`, { stream }, err);
    }
    if (!fn(decoder.decode(data))) return;
  }
}

/** Every message of a stream, in order. ERR_TRACE_LOG when there is no such stream. */
export async function readStream(nc: NatsConnection, stream: string): Promise<StreamContents> {
  const entries: StreamContents['entries'] = [];
  const { last_seq: lastSeq, limited } = await forEachEntry(nc, stream, (e) => void entries.push(e));
  return { stream, lastSeq, entries, limited };
}

/**
 * A stream's verifier. A stream without limits is checked from seq 1, so its oldest messages
 * deleted are found (`deleted`); one with limits (`aos` makes none; an operator may add them
 * with `nats stream edit`) loses its oldest messages by design, and is checked from the oldest
 * entry left, as a file log whose oldest segments were moved away (its report's `startsAt`).
 */
function streamVerifier(limited: boolean | undefined): PartVerifier {
  return new PartVerifier(null, 'places', undefined, limited === true ? 'trimmed' : undefined);
}

/**
 * Verifies a stream's entries as verifyLog does a file's lines, each at its stream sequence (in
 * parts: verify-file.ts); and its tail: entries deleted after the last one left are missing
 * against the stream's last sequence.
 */
export function verifyStreamContents(c: StreamContents): StreamVerifyReport {
  const v = streamVerifier(c.limited);
  for (const e of c.entries) if (!v.push(e.text, e.seq, e.text.length)) break;
  return withStreamEnd(v, c.lastSeq, c.stream, c.limited);
}

/** A stream verified a message at a time, and (for a tracer opening it) the batches it holds. */
async function verifyStreamReading(nc: NatsConnection, stream: string, onProgress?: ReadProgress): Promise<{ report: StreamVerifyReport; seen: Record<string, Seen> }> {
  const state = await streamState(await nc.jetstreamManager(), stream);
  const v = streamVerifier(state.limited);
  const seen: Record<string, Seen> = {};
  await forEachEntry(
    nc,
    stream,
    (e) => {
      onProgress?.(e.seq, state.last_seq);
      noteSeen(seen, e.text);
      return v.push(e.text, e.seq, e.text.length);
    },
    state,
  );
  return { report: withStreamEnd(v, state.last_seq, stream, state.limited), seen };
}

/** The chain after a stream whose limits removed every message: the next entry takes it up (`trimmed`). */
function agedOut(lastSeq: number): ChainState {
  return { ...EMPTY_CHAIN, seq: lastSeq };
}

function withStreamEnd(v: PartVerifier, lastSeq: number, stream: string, limited: boolean | undefined): StreamVerifyReport {
  const report = v.finish();
  const from = v.startsAt === undefined ? {} : { startsAt: v.startsAt };
  if (report.ok && report.tail.seq === 0 && limited === true) return { ok: true, tail: agedOut(lastSeq), stream };
  if (report.ok && report.tail.seq < lastSeq) {
    const problem: ChainProblem = {
      kind: 'truncated',
      line: lastSeq,
      seq: report.tail.seq + 1,
      detail: `the stream's last sequence is ${lastSeq}; its last entry is seq ${report.tail.seq}: the messages after it were deleted`,
    };
    return { ok: false, tail: report.tail, problem, stream, ...from };
  }
  return { ...report, stream, ...from };
}

/** Verifies a stream, a message at a time; `onProgress` hears of the stream sequences done. */
export async function verifyStream(nc: NatsConnection, stream: string, onProgress?: ReadProgress): Promise<StreamVerifyReport> {
  return (await verifyStreamReading(nc, stream, onProgress)).report;
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
    const log = new StreamLog(stream, subject, jsm, nc.jetstream(), options);
    const { report, seen } = await verifyStreamReading(nc, stream);
    if (!report.ok) throw brokenStream(stream, report.problem);
    log.last = report.tail;
    log.seen = seen;
    return log;
  }

  /** The chain after the stream's last entry (read from the stream). */
  private async readLast(): Promise<ChainState> {
    const { last_seq: lastSeq, messages, limited } = await streamState(this.jsm, this.stream);
    if (lastSeq === 0) return { ...EMPTY_CHAIN };
    if (messages === 0 && limited) return agedOut(lastSeq);
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

}
