// Reading a trace log back (format: hash-chain.ts): an entry's line parsed, and a whole log
// checked. verifyLog names the first entry that was edited, deleted, reordered, malformed or
// truncated, and what it holds (node, batch, records). Pure: lines in, a report out; the file
// (file-log.ts) and the stream (stream-log.ts) bring the lines and the head.

import { createHash } from 'node:crypto';
import { EMPTY_CHAIN, HASH_MEMBER, short, type ChainState, type Checkpoint, type HeadMark } from './hash-chain.js';
import { scanTraceBatch } from './trace-scan.js';

export type ProblemKind = 'edited' | 'deleted' | 'reordered' | 'malformed' | 'truncated';

/** What a batch entry holds: which node's batch, and which records of the log. */
export interface EntryContents {
  node: string;
  batch: number;
  /** The first and last record's number in the log (1-based; first > last for an empty batch). */
  records: [number, number];
}

/** The first thing wrong with a log: its line (1-based) and the seq found there (or due there), and what the entry there holds when it can be read. */
export interface ChainProblem {
  kind: ProblemKind;
  line: number;
  seq: number | null;
  detail: string;
  entry?: EntryContents;
}

interface VerifiedPart {
  /** The chain up to the last entry that verified (all of them when ok): where a writer resumes. */
  tail: ChainState;
}
export type VerifyReport = (VerifiedPart & { ok: true }) | (VerifiedPart & { ok: false; problem: ChainProblem });

export interface VerifyOptions {
  /** The head sidecar's mark: the log must reach it, and its entry must carry its hash. */
  head?: HeadMark | null;
  /** The chain before the first line (a writer checking what others appended after its own last entry). */
  from?: ChainState;
  /** The line number of the first line (default 1). */
  firstLine?: number;
  /** The place of each line, when they are not numbered one after the other (a stream's messages: their sequences). */
  places?: readonly number[];
  /**
   * `trust`: take each batch entry's count as written, without reading its batch (a writer
   * catching up with what another writer of its own process appended: hashes and links are
   * still checked). Default `scan`: every batch is read, and the counts must add up.
   */
  batches?: 'scan' | 'trust';
  /** More lines follow (a log read in parts): the checks of the log's end wait for its last part. */
  more?: boolean;
  /** Told the seq and hash of each entry that verified (checking a log against its anchors). */
  onEntry?: (seq: number, hash: string) => void;
}

/** The seq an entry's line starts with; undefined when it does not start as an entry. */
export function seqOf(line: string): number | undefined {
  const m = PREFIX.exec(line);
  return m === null ? undefined : Number(m[1]);
}

/** The time (`at`) an entry's line starts with; undefined when it does not start as an entry. */
export function atOf(line: string): number | undefined {
  const m = PREFIX.exec(line);
  return m === null ? undefined : Number(m[2]);
}

/** An entry's first members, always in this form: seq, at, prev, hash. */
const PREFIX = /^\{"seq":([1-9]\d{0,15}),"at":(0|[1-9]\d{0,15}),"prev":"([0-9a-f]{64})","hash":"([0-9a-f]{64})",/;
const BATCH_REST = /^"tracer":("(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"),"count":(0|[1-9]\d{0,15}),"batch":/;
const CHECKPOINT_REST = /^"checkpoint":\{"count":(0|[1-9]\d{0,15}),"head":"([0-9a-f]{64})"(?:,"deletedBefore":([1-9]\d{0,15}))?\}\}$/;

const encoder = new TextEncoder();

/** The hash of an entry's line whose hash member is `hashStart` to `hashStart + HASH_MEMBER`. */
function lineHash(line: string, hashStart: number): string {
  return createHash('sha256').update(line.slice(0, hashStart)).update(line.slice(hashStart + HASH_MEMBER)).digest('hex');
}
/** One entry's line read: its members, and where its batch is. */
export interface ParsedEntry {
  seq: number;
  at: number;
  prev: string;
  hash: string;
  /** Where the hash member starts (what the hash leaves out). */
  hashStart: number;
  body: { tracer: string; count: number; batch: string } | { checkpoint: Checkpoint };
}

/** The entry on a line, or why it is not one. */
export function parseEntry(line: string): ParsedEntry | string {
  const m = PREFIX.exec(line);
  if (m === null) {
    try {
      JSON.parse(line);
    } catch (err) {
      return `not JSON (${(err as Error).message})`;
    }
    return 'not an entry: it does not start {"seq":n,"at":t,"prev":"<64 hex>","hash":"<64 hex>",';
  }
  const seq = Number(m[1]);
  const at = Number(m[2]);
  const rest = line.slice(m[0].length);
  const base = { seq, at, prev: m[3]!, hash: m[4]!, hashStart: m[0].length - HASH_MEMBER };
  const cp = CHECKPOINT_REST.exec(rest);
  if (cp !== null) return { ...base, body: { checkpoint: { count: Number(cp[1]), head: cp[2]!, ...(cp[3] === undefined ? {} : { deletedBefore: Number(cp[3]) }) } } };
  const b = BATCH_REST.exec(rest);
  if (b === null || !rest.endsWith('}')) return 'not an entry: after its hash comes neither "checkpoint":{count, head[, deletedBefore]} nor "tracer", "count" and "batch"';
  return { ...base, body: { tracer: JSON.parse(b[1]!) as string, count: Number(b[2]), batch: rest.slice(b[0].length, -1) } };
}

/**
 * Checks a whole log: its text (a final line without a newline is a partial write) or its lines.
 * Reports ok, or the first problem in file order, with the chain up to the entry before it.
 */
export function verifyLog(log: string | readonly string[], options: VerifyOptions = {}): VerifyReport {
  let lines: readonly string[];
  let partialLast = false;
  if (typeof log === 'string') {
    const split = log === '' ? [] : log.split('\n');
    if (split.length > 0 && split[split.length - 1] === '') split.pop();
    else if (split.length > 0) partialLast = true;
    lines = split;
  } else lines = log;

  const head = options.head ?? null;
  const first = options.firstLine ?? 1;
  const st: ChainState = { ...(options.from ?? EMPTY_CHAIN) };
  const fail = (kind: ProblemKind, line: number, seq: number | null, detail: string, contents?: () => EntryContents | undefined): VerifyReport => {
    const entry = contents?.();
    return { ok: false, tail: st, problem: entry === undefined ? { kind, line, seq, detail } : { kind, line, seq, detail, entry } };
  };

  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const line = options.places?.[i] ?? first + i;
    const due = st.seq + 1;
    const partial = partialLast && i === lines.length - 1;
    const parsed = parseEntry(text);
    if (typeof parsed === 'string') return partial ? fail('truncated', line, due, `partial last line (${text.length} characters, no newline): ${parsed}`) : fail('malformed', line, due, parsed);
    if (partial) return fail('truncated', line, parsed.seq, 'the last line has no newline: a partial write');

    const body = parsed.body;
    const contents = (): EntryContents | undefined => ('batch' in body ? describe(body, st.records) : undefined);
    if (parsed.seq < due) return fail('reordered', line, parsed.seq, `seq ${parsed.seq} comes after seq ${st.seq}`, contents);
    if (parsed.seq > due) {
      const later = lineOfSeq(lines, i + 1, due);
      if (later !== undefined) return fail('reordered', line, parsed.seq, `seq ${parsed.seq} comes before seq ${due} (line ${options.places?.[later] ?? first + later})`, contents);
      const missing = parsed.seq - due === 1 ? `seq ${due} is` : `seqs ${due} to ${parsed.seq - 1} are`;
      return fail('deleted', line, parsed.seq, `${missing} missing before it`, contents);
    }
    if (lineHash(text, parsed.hashStart) !== parsed.hash) return fail('edited', line, parsed.seq, `its content does not match its hash ${short(parsed.hash)}`, contents);
    if (parsed.prev !== st.hash) {
      const before = st.seq === 0 ? 'the genesis hash' : `the hash of seq ${st.seq} (line ${options.places?.[i - 1] ?? line - 1})`;
      return fail('edited', line, parsed.seq, `its prev ${short(parsed.prev)} is not ${before}, ${short(st.hash)}: the entry before it was rewritten and re-hashed, or replaced`, contents);
    }
    if ('checkpoint' in parsed.body) {
      const cp = parsed.body.checkpoint;
      if (cp.count !== st.records || cp.head !== st.hash) {
        return fail('edited', line, parsed.seq, `the checkpoint says ${cp.count} records up to ${short(cp.head)}; the log holds ${st.records} up to ${short(st.hash)}`);
      }
      // A retention mark deletes what came before it, never itself or what follows.
      if (cp.deletedBefore !== undefined && cp.deletedBefore > parsed.seq) {
        return fail('malformed', line, parsed.seq, `its retention mark deletes the entries before seq ${cp.deletedBefore}, after its own seq`);
      }
    } else if (options.batches === 'trust') {
      if (parsed.body.count < st.records) return fail('malformed', line, parsed.seq, `its count ${parsed.body.count} is below the ${st.records} records before it`, contents);
    } else {
      let n: number;
      try {
        n = scanTraceBatch(encoder.encode(parsed.body.batch)).records;
      } catch (err) {
        return fail('malformed', line, parsed.seq, `the batch it holds does not read: ${(err as Error).message}`, contents);
      }
      if (parsed.body.count !== st.records + n) {
        return fail('malformed', line, parsed.seq, `its count ${parsed.body.count} is not the ${st.records} records before it plus the ${n} of its batch`, contents);
      }
    }
    if (head !== null && parsed.seq === head.seq && parsed.hash !== head.hash) {
      return fail('edited', line, parsed.seq, `its hash ${short(parsed.hash)} is not the one the head file recorded, ${short(head.hash)}`, contents);
    }

    st.seq = parsed.seq;
    st.hash = parsed.hash;
    options.onEntry?.(parsed.seq, parsed.hash);
    if ('checkpoint' in parsed.body) {
      st.checkpoints += 1;
      if (parsed.body.checkpoint.deletedBefore !== undefined) st.deletedBefore = parsed.body.checkpoint.deletedBefore;
    } else {
      st.records = parsed.body.count;
      st.batches += 1;
    }
  }
  // The writer appends, then moves the head: a log may be ahead of its head (a crash between
  // the two), never behind it.
  if (head !== null && options.more !== true && st.seq < head.seq) {
    return fail('truncated', options.places === undefined ? first + lines.length : head.seq, st.seq + 1, `the log ends at seq ${st.seq}; its head says it reached seq ${head.seq}`);
  }
  return { ok: true, tail: st };
}

/** What a batch entry says it holds: node and batch from the batch's header, its records from its count and what its batch stands for. */
function describe(body: { count: number; batch: string }, before: number): EntryContents | undefined {
  const header = batchHeader(body.batch);
  if (header === undefined) return undefined;
  let first = before + 1;
  try {
    first = body.count - scanTraceBatch(encoder.encode(body.batch)).records + 1;
  } catch {
    // a batch that does not read: its records as far as the counts tell
  }
  return { ...header, records: [first, body.count] };
}

/** A batch's node and number, from its first bytes (trace-codec.ts). */
export const BATCH_HEADER = /^\{"v":\d+,"node":("(?:[^"\\]|\\.)*"),"batch":(\d{1,16}),/;

/** The node and number a batch's text starts with; undefined when it does not start as a batch. */
export function batchHeader(batch: string): { node: string; batch: number } | undefined {
  const m = BATCH_HEADER.exec(batch);
  if (m === null) return undefined;
  try {
    return { node: JSON.parse(m[1]!) as string, batch: Number(m[2]) };
  } catch {
    return undefined;
  }
}
/** The index of the first line at or after `from` whose entry has seq `seq`. */
function lineOfSeq(lines: readonly string[], from: number, seq: number): number | undefined {
  for (let j = from; j < lines.length; j++) {
    const m = PREFIX.exec(lines[j]!);
    if (m !== null && Number(m[1]) === seq) return j;
  }
  return undefined;
}
