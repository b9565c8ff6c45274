// The trace log's format: one JSON line per entry, each chained to the one before by
// `hash = sha256(prev || canonicalJSON({seq, at, record}))`, with a checkpoint entry every N
// records. Pure: LogWriter turns records into lines; verifyLog names the first entry that was
// edited, deleted, reordered, malformed or truncated. Files are file-log.ts's business.

import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

/** The `prev` of the first entry. */
export const GENESIS = '0'.repeat(64);
export const DEFAULT_CHECKPOINT_EVERY = 1000;

/** One record in the log. `at` is when the writer appended it; the record keeps its own times. */
export interface RecordEntry {
  seq: number;
  at: number;
  prev: string;
  hash: string;
  record: unknown;
}

/** Every N records: how many records the log holds so far, and the hash of the entry before. */
export interface Checkpoint {
  count: number;
  head: string;
}

export interface CheckpointEntry {
  seq: number;
  at: number;
  prev: string;
  hash: string;
  checkpoint: Checkpoint;
}

export type LogEntry = RecordEntry | CheckpointEntry;

/** The last entry written: what the `<log>.head` sidecar holds. */
export interface HeadMark {
  seq: number;
  hash: string;
}

/** Where a chain stands after some entries: all a writer needs to append the next one. */
export interface ChainState {
  /** The last entry's seq (0 before the first; seqs start at 1). */
  seq: number;
  /** The last entry's hash (GENESIS before the first). */
  hash: string;
  records: number;
  checkpoints: number;
  /** Records since the last checkpoint. */
  sinceCheckpoint: number;
}

export const EMPTY_CHAIN: Readonly<ChainState> = { seq: 0, hash: GENESIS, records: 0, checkpoints: 0, sinceCheckpoint: 0 };

export type ProblemKind = 'edited' | 'deleted' | 'reordered' | 'malformed' | 'truncated';

/** The first thing wrong with a log: its line (1-based) and the seq found there (or due there). */
export interface ChainProblem {
  kind: ProblemKind;
  line: number;
  seq: number | null;
  detail: string;
}

interface VerifiedPart {
  /** The chain up to the last entry that verified (all of them when ok): where a writer resumes. */
  tail: ChainState;
}
export type VerifyReport = (VerifiedPart & { ok: true }) | (VerifiedPart & { ok: false; problem: ChainProblem });

export interface VerifyOptions {
  /** The head sidecar's mark: the log must reach it, and its entry must carry its hash. */
  head?: HeadMark | null;
}

const HEX64 = /^[0-9a-f]{64}$/;

function sha256(prev: string, body: string): string {
  return createHash('sha256').update(prev).update(body).digest('hex');
}

/** canonicalJSON({seq, at, record}) from the record's canonical text (keys in sorted order: at, record, seq). */
function recordBody(seq: number, at: number, recordJson: string): string {
  return `{"at":${canonicalJson(at)},"record":${recordJson},"seq":${seq}}`;
}

function recordLine(seq: number, at: number, prev: string, hash: string, recordJson: string): string {
  return `{"seq":${seq},"at":${canonicalJson(at)},"prev":"${prev}","hash":"${hash}","record":${recordJson}}`;
}

function checkpointLine(seq: number, at: number, prev: string, hash: string, cp: Checkpoint): string {
  return JSON.stringify({ seq, at, prev, hash, checkpoint: { count: cp.count, head: cp.head } });
}

/** The hash of an entry, from its fields (the record or checkpoint as parsed). */
export function entryHash(entry: Omit<RecordEntry, 'hash'> | Omit<CheckpointEntry, 'hash'>): string {
  const body = 'checkpoint' in entry ? canonicalJson({ seq: entry.seq, at: entry.at, checkpoint: entry.checkpoint }) : recordBody(entry.seq, entry.at, canonicalJson(entry.record));
  return sha256(entry.prev, body);
}

export function formatHead(head: HeadMark): string {
  return JSON.stringify({ seq: head.seq, hash: head.hash });
}

/** A head sidecar's text as a mark, or undefined when it is not `{"seq": n, "hash": <64 hex>}`. */
export function parseHead(text: string): HeadMark | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(v) || !isSeq(v['seq'], 0) || typeof v['hash'] !== 'string' || !HEX64.test(v['hash'])) return undefined;
  return { seq: v['seq'], hash: v['hash'] };
}

export interface LogWriterOptions {
  /** A checkpoint entry after every this many records (default 1000). */
  checkpointEvery?: number;
  /** The clock for each entry's `at` (default Date.now). */
  now?: () => number;
  /** Continue a chain (from verifyLog's `tail`); default: a new log. */
  from?: ChainState;
}

/** Appends records to a chain: keeps seq and prev, returns each entry's line (without its newline). */
export class LogWriter {
  private state: ChainState;
  private readonly every: number;
  private readonly now: () => number;

  constructor(options: LogWriterOptions = {}) {
    this.every = options.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
    if (!Number.isSafeInteger(this.every) || this.every < 1) throw new RangeError(`checkpointEvery must be a positive integer, got ${this.every}`);
    this.now = options.now ?? Date.now;
    this.state = { ...(options.from ?? EMPTY_CHAIN) };
  }

  /** A writer that continues the log after its last entry that verifies (broken entries after it are left out). */
  static resume(log: string | readonly string[], options: Omit<LogWriterOptions, 'from'> = {}): LogWriter {
    return new LogWriter({ ...options, from: verifyLog(log).tail });
  }

  get chain(): ChainState {
    return { ...this.state };
  }

  get head(): HeadMark {
    return { seq: this.state.seq, hash: this.state.hash };
  }

  /** The lines of the records' entries, and of any checkpoint they complete. All or nothing: a record that cannot be serialised (a BigInt) throws and changes nothing. */
  append(records: readonly unknown[]): string[] {
    const s = { ...this.state };
    const lines: string[] = [];
    for (const record of records) {
      const at = this.now();
      const json = canonicalJson(record);
      s.seq += 1;
      const hash = sha256(s.hash, recordBody(s.seq, at, json));
      lines.push(recordLine(s.seq, at, s.hash, hash, json));
      s.hash = hash;
      s.records += 1;
      s.sinceCheckpoint += 1;
      if (s.sinceCheckpoint >= this.every) {
        const cp: Checkpoint = { count: s.records, head: s.hash };
        s.seq += 1;
        const cpHash = entryHash({ seq: s.seq, at, prev: s.hash, checkpoint: cp });
        lines.push(checkpointLine(s.seq, at, s.hash, cpHash, cp));
        s.hash = cpHash;
        s.checkpoints += 1;
        s.sinceCheckpoint = 0;
      }
    }
    this.state = s;
    return lines;
  }
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
  const st: ChainState = { ...EMPTY_CHAIN };
  const fail = (kind: ProblemKind, line: number, seq: number | null, detail: string): VerifyReport => ({ ok: false, tail: st, problem: { kind, line, seq, detail } });

  for (let i = 0; i < lines.length; i++) {
    const text = lines[i]!;
    const line = i + 1;
    const due = st.seq + 1;
    const partial = partialLast && i === lines.length - 1;
    const parsed = parseEntry(text);
    if (typeof parsed === 'string') return partial ? fail('truncated', line, due, `partial last line (${text.length} characters, no newline): ${parsed}`) : fail('malformed', line, due, parsed);
    if (partial) return fail('truncated', line, parsed.seq, 'the last line has no newline: a partial write');

    if (parsed.seq < due) return fail('reordered', line, parsed.seq, `seq ${parsed.seq} comes after seq ${st.seq}`);
    if (parsed.seq > due) {
      const later = lineOfSeq(lines, i + 1, due);
      if (later !== undefined) return fail('reordered', line, parsed.seq, `seq ${parsed.seq} comes before seq ${due} (line ${later})`);
      const missing = parsed.seq - due === 1 ? `seq ${due} is` : `seqs ${due} to ${parsed.seq - 1} are`;
      return fail('deleted', line, parsed.seq, `${missing} missing before it`);
    }

    const isCp = 'checkpoint' in parsed;
    const json = isCp ? '' : canonicalJson(parsed.record);
    const hash = isCp ? entryHash(parsed) : sha256(parsed.prev, recordBody(parsed.seq, parsed.at, json));
    if (hash !== parsed.hash) return fail('edited', line, parsed.seq, `its content does not match its hash ${short(parsed.hash)}`);
    if (parsed.prev !== st.hash) {
      const before = st.seq === 0 ? 'the genesis hash' : `the hash of seq ${st.seq} (line ${line - 1})`;
      return fail('edited', line, parsed.seq, `its prev ${short(parsed.prev)} is not ${before}, ${short(st.hash)}: the entry before it was rewritten and re-hashed, or replaced`);
    }
    const canonical = isCp ? checkpointLine(parsed.seq, parsed.at, parsed.prev, parsed.hash, parsed.checkpoint) : recordLine(parsed.seq, parsed.at, parsed.prev, parsed.hash, json);
    if (text !== canonical) return fail('malformed', line, parsed.seq, 'the line is not in the form the writer writes (whitespace, key order, number or string spelling changed)');
    if (isCp && (parsed.checkpoint.count !== st.records || parsed.checkpoint.head !== st.hash)) {
      return fail('edited', line, parsed.seq, `the checkpoint says ${parsed.checkpoint.count} records up to ${short(parsed.checkpoint.head)}; the log holds ${st.records} up to ${short(st.hash)}`);
    }
    if (head !== null && parsed.seq === head.seq && parsed.hash !== head.hash) {
      return fail('edited', line, parsed.seq, `its hash ${short(parsed.hash)} is not the one the head file recorded, ${short(head.hash)}`);
    }

    st.seq = parsed.seq;
    st.hash = parsed.hash;
    if (isCp) {
      st.checkpoints += 1;
      st.sinceCheckpoint = 0;
    } else {
      st.records += 1;
      st.sinceCheckpoint += 1;
    }
  }
  // The writer appends, then moves the head: a log may be ahead of its head (a crash between
  // the two), never behind it.
  if (head !== null && st.seq < head.seq) {
    return fail('truncated', lines.length + 1, st.seq + 1, `the log ends at seq ${st.seq}; its head file says it reached seq ${head.seq}`);
  }
  return { ok: true, tail: st };
}

/** The first 12 hex digits: enough to tell hashes apart when reading. */
export function short(hash: string): string {
  return hash.slice(0, 12);
}

/** The entry on a line, or why it is not one. */
function parseEntry(text: string): LogEntry | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return `not JSON (${(err as Error).message})`;
  }
  if (!isObject(v)) return 'not a JSON object';
  const keys = Object.keys(v).sort().join(',');
  const isCp = keys === 'at,checkpoint,hash,prev,seq';
  if (!isCp && keys !== 'at,hash,prev,record,seq') return `unexpected fields: ${keys}`;
  if (!isSeq(v['seq'], 1)) return 'seq is not a positive integer';
  if (typeof v['at'] !== 'number' || !Number.isFinite(v['at'])) return 'at is not a number';
  for (const k of ['prev', 'hash'] as const) if (typeof v[k] !== 'string' || !HEX64.test(v[k])) return `${k} is not 64 hex digits`;
  if (isCp) {
    const cp = v['checkpoint'];
    if (!isObject(cp) || Object.keys(cp).sort().join(',') !== 'count,head' || !isSeq(cp['count'], 0) || typeof cp['head'] !== 'string' || !HEX64.test(cp['head'])) {
      return 'checkpoint is not {count, head}';
    }
  }
  return v as unknown as LogEntry;
}

/** The line (1-based) of the first entry at or after index `from` whose seq is `seq`. */
function lineOfSeq(lines: readonly string[], from: number, seq: number): number | undefined {
  for (let j = from; j < lines.length; j++) {
    try {
      const v: unknown = JSON.parse(lines[j]!);
      if (isObject(v) && v['seq'] === seq) return j + 1;
    } catch {
      // an unparseable line is not the entry sought
    }
  }
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSeq(v: unknown, min: number): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= min;
}
