// The hash-chained trace log in a local file (format: hash-chain.ts). Opening verifies the file
// (read in parts; past verifyWholeUpTo, its last part only) and its `<log>.head` sidecar and
// refuses a broken log (ERR_TRACE_LOG); each batch is one
// vectored write, then the head moves: one write of fixed width over the old one (no rename, which
// costs milliseconds on a busy disk), so the head never runs ahead of the log.
// One writer at a time: one process (log-lock.ts), and in it a FileLog notices entries another
// FileLog appended since its own last write (another worker thread's, the same actor's earlier
// turns) and continues after them.
// Retention (keepSegments, keepDays) deletes whole segments, oldest first, and writes a retention
// mark into the chain before it deletes (hash-chain.ts), so verify tells what the log deleted
// from what went missing.

import { appendFileSync, existsSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { aosError } from '../errors/aos-error.js';
import { formatHead, LogWriter, type BatchInput, type ChainState, type HeadMark } from './hash-chain.js';
import { appendParts, fileSize, headPathOf, logExists, readFrom, readHead } from './log-file-io.js';
import { lockLog } from './log-lock.js';
import { forEachLineBackward } from './log-lines.js';
import { logFiles, segmentLastSeq, segmentName } from './log-segments.js';
import { verifyFile, verifyTail, type ReadProgress, type VerifyFileOptions } from './verify-file.js';
import { atOf, verifyLog, type ChainProblem, type VerifyReport } from './verify-log.js';

export { describeHead, headPathOf } from './log-file-io.js';

/**
 * verifyLog's report for a log, its segments included (log-segments.ts): `file` is where the
 * problem is (the log itself when there is none); `startsAt` the seq its oldest segment here starts
 * at when earlier segments are not here; and whether its head sidecar was there to check against.
 */
export type FileVerifyReport = VerifyReport & { file: string; headFile: 'checked' | 'missing'; startsAt?: number };

/**
 * Verifies a log file and its segments, in order, against its head sidecar. A missing log is
 * ERR_TRACE_LOG; a missing head is reported, not a failure. `onEntry` is told each entry that
 * verified (its seq and hash).
 */
export function verifyLogFile(path: string, onProgress?: ReadProgress, onEntry?: (seq: number, hash: string) => void): FileVerifyReport {
  const head = readHead(path);
  const files = logFiles(path);
  if (files[files.length - 1] !== path) files.push(path); // a missing log: its read fails as ERR_TRACE_LOG
  let from: ChainState | 'continued' = 'continued';
  let startsAt: number | undefined;
  let report: VerifyReport = { ok: true, tail: { seq: 0, hash: '0'.repeat(64), records: 0, batches: 0, checkpoints: 0 } };
  let file = path;
  for (const f of files) {
    file = f;
    const last = f === path;
    const r = verifyFileOrFail(f, last && head !== 'malformed' ? head : null, { onProgress, from, ...(onEntry === undefined ? {} : { onEntry }) });
    if (from === 'continued') startsAt = r.startsAt;
    report = r.report;
    if (!report.ok) break;
    from = report.tail;
  }
  const found = { ...(startsAt === undefined ? {} : { startsAt }), file: report.ok ? path : file };
  if (head === 'malformed') {
    const problem: ChainProblem = { kind: 'malformed', line: 0, seq: null, detail: `the head file ${headPathOf(path)} is not {"seq": n, "hash": <64 hex digits>}` };
    return { ...(report.ok ? { ok: false, tail: report.tail, problem } : report), ...found, headFile: 'checked' };
  }
  return { ...report, ...found, headFile: head === null ? 'missing' : 'checked' };
}

/** verifyFile, with a file that cannot be read as ERR_TRACE_LOG. */
function verifyFileOrFail(path: string, head: HeadMark | null, options: VerifyFileOptions = {}): ReturnType<typeof verifyFile> {
  return readingOrFail(path, () => verifyFile(path, head, options));
}

function readingOrFail<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw aosError('ERR_TRACE_LOG', `cannot read the trace log ${path}`, { file: path }, err);
  }
}

export interface FileLogOptions {
  /** A checkpoint entry whenever the record count passes a multiple of this (default 1000). */
  checkpointEvery?: number;
  /** The clock for each entry's `at` (default Date.now). */
  now?: () => number;
  /**
   * Opening verifies a log up to this size whole (default 1 GiB, about 5 s here); a larger one
   * from its last `verifyTailBytes` to its head, so a tracer starts in bounded time. `aos trace
   * verify` reads it all.
   */
  verifyWholeUpTo?: number;
  /** How much of a large log's end opening verifies (default 64 MiB). */
  verifyTailBytes?: number;
  /** Past this size, the log's file becomes a segment and a new file continues the chain (log-segments.ts); default: never. */
  rotateBytes?: number;
  /**
   * With rotateBytes: the segments kept. Once a new segment is made, the oldest beyond this many
   * are deleted, so the log takes at most about (keepSegments + 1) × rotateBytes on disk; verify
   * then checks it from the oldest segment left. Default: every segment is kept.
   */
  keepSegments?: number;
  /**
   * With rotateBytes: the segments whose last entry is older than this many days (by `now`) are
   * deleted, oldest first; checked when the log opens, when a new segment starts, and at most
   * once a minute as batches are appended. The log's file itself is never deleted. Default: no
   * limit of age. With keepSegments too, a segment goes when either says so.
   */
  keepDays?: number;
  /** Told which segments retention deleted, and any it could not delete (the append goes on either way). */
  onSegmentsRemoved?: (removed: SegmentsRemoved) => void;
}

/** What retention did: files deleted, files it could not delete with why, and the seq its mark says the log keeps from. */
export interface SegmentsRemoved {
  removed: string[];
  failed: { file: string; error: string }[];
  /** The retention mark written before deleting: the entries before this seq are gone. */
  deletedBefore: number;
  /** What deleted them: the count of segments kept, their age, or both. */
  by: ('keepSegments' | 'keepDays')[];
}

const DAY_MS = 86_400_000;
/** How often appends look for segments past keepDays. */
export const AGE_CHECK_MS = 60_000;
/** What is read from a segment's end to find its last entry's time. */
const LAST_LINE_CHUNK = 64 * 1024;

const VERIFY_WHOLE_UP_TO = 1024 * 1024 * 1024;
const VERIFY_TAIL_BYTES = 64 * 1024 * 1024;

/** The head file's size: `{"seq":…,"hash":"…","records":…,"batches":…,"checkpoints":…}` padded with spaces, and a newline. */
const HEAD_WIDTH = 256;

/** An append-only, hash-chained log file. One writer at a time per file: two appending at once would fork the chain. */
export class FileLog {
  readonly headPath: string;
  private failure: Error | undefined;
  /** The head file exists: writes go over it in place. */
  private headWritten = false;

  private constructor(
    readonly path: string,
    private writer: LogWriter,
    /** The file's size in bytes after this FileLog's last read or write: any other size means someone else wrote. */
    private size: number,
    private readonly options: FileLogOptions,
  ) {
    this.headPath = headPathOf(path);
    this.now = options.now ?? Date.now;
  }

  private readonly now: () => number;
  /** When retention last looked at the segments (keepDays: appends look again AGE_CHECK_MS later). */
  private retainedAt = -Infinity;

  /**
   * Opens a log, creating it (and its directory) if needed, and resumes its chain. Refuses with
   * ERR_TRACE_LOG a log that another process writes (log-lock.ts), that does not verify, or that
   * has entries but no head file (its tail could have been cut, and a new head would hide that).
   */
  static open(path: string, options: FileLogOptions = {}): FileLog {
    const keep = options.keepSegments;
    if (keep !== undefined && (!Number.isSafeInteger(keep) || keep < 0 || options.rotateBytes === undefined)) {
      throw aosError('ERR_CONFIG', `keepSegments is a whole number of segments, 0 or more, with rotateBytes: got ${String(keep)}`, { file: path, keepSegments: keep });
    }
    const days = options.keepDays;
    if (days !== undefined && (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || options.rotateBytes === undefined)) {
      throw aosError('ERR_CONFIG', `keepDays is a number of days above 0, with rotateBytes: got ${String(days)}`, { file: path, keepDays: days });
    }
    logExists(path); // makes its directory, for the lock
    lockLog(path, options.now);
    finishRotation(path);
    const exists = logExists(path);
    const { tail, head, size } = load(path, exists, options);
    const log = new FileLog(path, new LogWriter({ ...options, from: tail }), size, options);
    if (!exists) log.create();
    // The head exists before the first entry, so a log with entries and no head is never a crash's doing.
    log.headWritten = head !== null;
    if (head === null) log.writeHead();
    log.retain();
    return log;
  }

  /**
   * Continues after entries another writer appended since this FileLog last read or wrote the
   * file (its size or its head file moved). The usual case, another FileLog of this process (a
   * turn of the tracer in another worker thread) that appended and moved the head, costs nothing:
   * the head holds the chain's end and counts. Otherwise the new entries' hashes and links are
   * checked from this FileLog's own last entry on (a file that shrank is verified whole, as open
   * does). Append does this first; true when the file had moved.
   */
  resume(): boolean {
    const head = readHead(this.path);
    const size = fileSize(this.path);
    const mine = this.writer.head;
    if (head !== 'malformed' && head !== null && head.seq === mine.seq && head.hash === mine.hash && size === this.size) return false;
    if (size < this.size || head === 'malformed' || head === null) {
      const loaded = load(this.path, true, this.options);
      this.writer = new LogWriter({ ...this.options, from: loaded.tail });
      this.size = loaded.size;
      return true;
    }
    if (head.seq > mine.seq && head.records !== undefined && size > this.size) {
      // Another FileLog of this process appended, then moved the head: its chain continues from there.
      this.writer = new LogWriter({ ...this.options, from: { seq: head.seq, hash: head.hash, records: head.records, batches: head.batches ?? 0, checkpoints: head.checkpoints ?? 0 } });
      this.size = size;
      return true;
    }
    const added = readFrom(this.path, this.size, size);
    const report = verifyLog(added, { head, from: this.writer.chain, firstLine: mine.seq + 1, batches: 'trust' });
    if (!report.ok) throw brokenLog(this.path, report.problem);
    this.writer = new LogWriter({ ...this.options, from: report.tail });
    this.size = size;
    return true;
  }

  /** The last entry written. */
  get head(): HeadMark {
    return this.writer.head;
  }

  get records(): number {
    return this.writer.chain.records;
  }

  get checkpoints(): number {
    return this.writer.chain.checkpoints;
  }

  /** The chain after the last entry written. */
  get chain(): ChainState {
    return this.writer.chain;
  }

  /**
   * Appends a batch (one write of its entry, and of a checkpoint it completes), then moves the
   * head. After a failed write the log may end in a partial line: this FileLog refuses further
   * appends, and opening it again verifies what is there.
   */
  append(input: BatchInput): void {
    if (this.failure !== undefined) throw aosError('ERR_TRACE_LOG', `an earlier write to ${this.path} failed: open it again`, { file: this.path }, this.failure);
    this.resume();
    if (this.options.rotateBytes !== undefined && this.size >= this.options.rotateBytes && this.writer.head.seq > 0) {
      this.rotate();
      this.retain();
    } else if (this.options.keepDays !== undefined && this.now() - this.retainedAt >= AGE_CHECK_MS) this.retain();
    const parts = this.writer.appendParts(input);
    try {
      this.size += appendParts(this.path, parts);
    } catch (err) {
      this.failure = err as Error;
      throw aosError('ERR_TRACE_LOG', `cannot append to ${this.path}`, { file: this.path }, err);
    }
    this.writeHead();
  }

  /**
   * The log's file becomes the segment that ends at its last seq, and a new file continues the
   * chain with a checkpoint. The new file is written aside first, then the two renames: a crash in
   * between leaves `<log>.next`, which open finishes (finishRotation).
   */
  private rotate(): void {
    const next = `${this.path}.next`;
    const segment = segmentName(this.path, this.writer.head.seq);
    const line = this.writer.checkpoint();
    try {
      writeFileSync(next, line);
      renameSync(this.path, segment);
      renameSync(next, this.path);
    } catch (err) {
      this.failure = err as Error;
      throw aosError('ERR_TRACE_LOG', `cannot start a new segment of ${this.path}`, { file: this.path, segment }, err);
    }
    this.size = line.length;
    this.writeHead();
  }

  /**
   * Deletes the oldest segments that keepSegments or keepDays no longer keep: first a retention
   * mark goes into the chain (a checkpoint saying the entries before the oldest segment kept are
   * deleted), then the files. A file that cannot be deleted does not fail the append: it is
   * reported, and tried again next time.
   */
  private retain(): void {
    const { keepSegments, keepDays } = this.options;
    if (keepSegments === undefined && keepDays === undefined) return;
    const now = this.now();
    this.retainedAt = now;
    const segments = logFiles(this.path).filter((f) => f !== this.path);
    const byCount = keepSegments === undefined ? 0 : Math.max(0, segments.length - keepSegments);
    let byAge = 0;
    if (keepDays !== undefined) {
      const cutoff = now - keepDays * DAY_MS;
      // Oldest first, up to the first one still young (or that cannot be dated): what is kept is always the newest.
      while (byAge < segments.length && (lastEntryAt(segments[byAge]!) ?? Infinity) < cutoff) byAge++;
    }
    const old = segments.slice(0, Math.max(byCount, byAge));
    if (old.length === 0) return;
    const deletedBefore = segmentLastSeq(old[old.length - 1]!) + 1;
    const mark = this.writer.checkpoint(deletedBefore);
    try {
      this.size += appendParts(this.path, [mark]);
    } catch (err) {
      this.failure = err as Error;
      throw aosError('ERR_TRACE_LOG', `cannot append to ${this.path}`, { file: this.path }, err);
    }
    this.writeHead();
    const by: SegmentsRemoved['by'] = [];
    if (byCount > 0) by.push('keepSegments');
    if (byAge > 0) by.push('keepDays');
    const report: SegmentsRemoved = { removed: [], failed: [], deletedBefore, by };
    for (const file of old) {
      try {
        unlinkSync(file);
        report.removed.push(file);
      } catch (err) {
        // Gone already: another FileLog of this process deleted it.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') report.failed.push({ file, error: (err as Error).message });
      }
    }
    this.options.onSegmentsRemoved?.(report);
  }

  private create(): void {
    try {
      appendFileSync(this.path, '');
    } catch (err) {
      throw aosError('ERR_TRACE_LOG', `cannot create the trace log ${this.path}`, { file: this.path }, err);
    }
  }

  private writeHead(): void {
    // Padded to a fixed width, so each write covers the whole of the one before ('r+': no truncation, one write).
    const text = `${formatHead(this.writer.chain).padEnd(HEAD_WIDTH - 1)}\n`;
    try {
      writeFileSync(this.headPath, text, { flag: this.headWritten ? 'r+' : 'w' });
      this.headWritten = true;
    } catch (err) {
      this.failure = err as Error;
      throw aosError('ERR_TRACE_LOG', `cannot write the head file ${this.headPath}`, { file: this.path }, err);
    }
  }

}

/** The time of a segment's last entry; undefined when it has none that reads. */
function lastEntryAt(file: string): number | undefined {
  let at: number | undefined;
  try {
    forEachLineBackward(
      file,
      (line) => {
        at = atOf(line);
        return false;
      },
      LAST_LINE_CHUNK,
    );
  } catch {
    return undefined;
  }
  return at;
}

/** Verifies a log (none yet: empty) against its head file: where its chain ends, its head, and its size in bytes; ERR_TRACE_LOG if broken. */
function load(path: string, exists: boolean, options: FileLogOptions): { tail: ChainState; head: HeadMark | null; size: number } {
  const head = readHead(path);
  if (head === 'malformed') throw brokenLog(path, { kind: 'malformed', line: 0, seq: null, detail: `the head file ${headPathOf(path)} is malformed` });
  if (exists && head !== null) {
    const size = fileSize(path);
    if (size > (options.verifyWholeUpTo ?? VERIFY_WHOLE_UP_TO)) {
      const tail = readingOrFail(path, () => verifyTail(path, head, options.verifyTailBytes ?? VERIFY_TAIL_BYTES));
      if (tail !== undefined) return { tail, head, size };
    }
  }
  const { report, size, startsAt } = exists ? verifyFileOrFail(path, head, { from: 'continued' }) : { report: verifyLog('', { head }), size: 0, startsAt: undefined };
  if (!report.ok) throw brokenLog(path, report.problem);
  // A segment after others counts its batches and checkpoints from its start: the head has the log's.
  if (startsAt !== undefined && head !== null && head.records !== undefined && report.tail.seq === head.seq) {
    return { tail: { ...report.tail, batches: head.batches ?? 0, checkpoints: head.checkpoints ?? 0 }, head, size };
  }
  if (head === null && report.tail.seq > 0) {
    throw brokenLog(path, { kind: 'truncated', line: 0, seq: null, detail: `it has ${report.tail.seq} entries but no head file ${headPathOf(path)}` });
  }
  return { tail: report.tail, head, size };
}

function brokenLog(path: string, p: ChainProblem): Error {
  const where = p.line === 0 ? '' : ` at line ${p.line} (seq ${p.seq ?? '-'})`;
  return aosError('ERR_TRACE_LOG', `the trace log ${path} is broken, ${p.kind}${where}: ${p.detail}; nothing is appended to it`, {
    file: path,
    kind: p.kind,
    line: p.line,
    seq: p.seq,
    ...(p.entry === undefined ? {} : { entry: p.entry }),
  });
}

/** A rotation cut short by a crash: `<log>.next` holds the new file. Renamed into place when the log itself was already moved; else the rotation did not happen, and it goes. */
function finishRotation(path: string): void {
  const next = `${path}.next`;
  if (!existsSync(next)) return;
  try {
    if (existsSync(path)) unlinkSync(next);
    else renameSync(next, path);
  } catch (err) {
    throw aosError('ERR_TRACE_LOG', `cannot finish starting a new segment of ${path}`, { file: path }, err);
  }
}
