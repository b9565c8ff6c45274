// verifyLog over a log read in parts (a file's lines: log-lines.ts; a stream's messages), so that
// a log larger than a string can be, or than a thread should hold, is verified all the same: each
// part continues the chain of the one before, and the log's end is checked with the last. A gap
// found in one part may be an entry that comes later (reordered, not deleted): the entries after
// it are looked through for it. A segment of a file log (log-segments.ts) may start with the
// checkpoint that continues the chain of the segments before it: it is checked from there. A
// stream whose oldest messages its limits removed is checked from its oldest entry left.

import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { EMPTY_CHAIN, type ChainState, type HeadMark } from './hash-chain.js';
import { forEachLine, forEachLineBackward, LINE_CHUNK_BYTES } from './log-lines.js';
import { scanTraceBatch } from './trace-scan.js';
import { parseEntry, seqOf, verifyLog, type ParsedEntry, type VerifyReport } from './verify-log.js';

export class PartVerifier {
  private chain: ChainState;
  private texts: string[] = [];
  private places: number[] = [];
  private partSize = 0;
  /** The line number of the part's first line (a file's lines are numbered one after the other). */
  private firstLine = 1;
  private failed: VerifyReport | undefined;
  /** A gap found before the end: the seq it lacks, looked for in the entries after it. */
  private lacking: { seq: number; report: VerifyReport & { ok: false } } | undefined;
  /** The seq of the checkpoint a continued segment starts with (the chain before it is in earlier segments). */
  startsAt: number | undefined;
  private first = true;
  private readonly start: 'continued' | 'trimmed' | undefined;

  constructor(
    private readonly head: HeadMark | null,
    /** `lines`: numbered from 1 (a file); `places`: each entry at the place given (a stream's sequences). */
    private readonly numbering: 'lines' | 'places',
    private readonly partBytes = LINE_CHUNK_BYTES,
    /**
     * The chain before the first entry; `continued`: a log segment, which may start with a
     * checkpoint that continues a chain from earlier segments; `trimmed`: a log whose oldest
     * entries its store's retention removed (a stream with limits), checked from whatever entry
     * is oldest.
     */
    from: ChainState | 'continued' | 'trimmed' = EMPTY_CHAIN,
    /** Told the seq and hash of each entry that verified. */
    private readonly onEntry?: (seq: number, hash: string) => void,
  ) {
    this.start = typeof from === 'string' ? from : undefined;
    this.chain = { ...(typeof from === 'string' ? EMPTY_CHAIN : from) };
  }

  /** The next entry's text, at `place`; false once the report is known (nothing more is needed). */
  push(text: string, place: number, bytes: number, terminated = true): boolean {
    if (this.first) {
      this.first = false;
      if (this.start !== undefined) this.startFrom(text);
    }
    if (this.lacking !== undefined) {
      if (seqOf(text) === this.lacking.seq) {
        const p = this.lacking.report.problem;
        this.failed = { ...this.lacking.report, problem: { ...p, kind: 'reordered', detail: `seq ${p.seq ?? '-'} comes before seq ${this.lacking.seq} (line ${place})` } };
      }
      return this.failed === undefined;
    }
    this.texts.push(text);
    this.places.push(place);
    this.partSize += bytes;
    if (!terminated) this.check(true, false);
    else if (this.partSize >= this.partBytes) this.check(false, true);
    return this.failed === undefined;
  }

  /** A log that does not start at seq 1: its chain is taken up at its first entry (a segment's checkpoint; with `trimmed`, a batch too). */
  private startFrom(text: string): void {
    const e = parseEntry(text);
    if (typeof e === 'string' || e.seq <= 1 || (this.start === 'continued' && !('checkpoint' in e.body))) return;
    // A batch that does not read: verifyLog names it, from the chain's start.
    const records = recordsBefore(e);
    if (records === undefined) return;
    this.startsAt = e.seq;
    this.chain = { seq: e.seq - 1, hash: e.prev, records, batches: 0, checkpoints: 0 };
  }

  /** The report, once every entry is in. */
  finish(): VerifyReport {
    if (this.failed === undefined && this.lacking !== undefined) this.failed = this.lacking.report;
    if (this.failed === undefined) this.check(true, true);
    return this.failed ?? { ok: true, tail: this.chain };
  }

  private check(last: boolean, terminated: boolean): void {
    const options = { head: this.head, from: this.chain, more: !last, ...(this.onEntry === undefined ? {} : { onEntry: this.onEntry }) };
    const report =
      this.numbering === 'places'
        ? verifyLog(this.texts, { ...options, places: this.places })
        : verifyLog(this.texts.length === 0 ? '' : this.texts.join('\n') + (terminated ? '\n' : ''), { ...options, firstLine: this.firstLine });
    this.firstLine += this.texts.length;
    this.texts = [];
    this.places = [];
    this.partSize = 0;
    if (report.ok) this.chain = report.tail;
    else if (report.problem.kind === 'deleted' && !last) this.lacking = { seq: report.tail.seq + 1, report };
    else this.failed = report;
  }
}

/** How far a long read got: bytes (or messages) done of all there are. */
export type ReadProgress = (done: number, total: number) => void;

export interface VerifyFileOptions {
  partBytes?: number;
  onProgress?: ReadProgress;
  /** The chain before the file's first entry (a segment after another), or `continued` (see PartVerifier); default: a log from its start. */
  from?: ChainState | 'continued';
  /** Told the seq and hash of each entry that verified. */
  onEntry?: (seq: number, hash: string) => void;
}

/** The report on a whole log file (or segment), its size in bytes as read, and where a continued segment starts. */
export function verifyFile(path: string, head: HeadMark | null, options: VerifyFileOptions = {}): { report: VerifyReport; size: number; startsAt: number | undefined } {
  const { partBytes = LINE_CHUNK_BYTES, onProgress } = options;
  const v = new PartVerifier(head, 'lines', partBytes, options.from, options.onEntry);
  const total = onProgress === undefined ? 0 : statSync(path).size;
  let lineNo = 0;
  let size = 0;
  forEachLine(
    path,
    (line, terminated, bytes) => {
      size += bytes;
      onProgress?.(size, total);
      return v.push(line, ++lineNo, bytes, terminated);
    },
    partBytes,
  );
  return { report: v.finish(), size, startsAt: v.startsAt };
}

/**
 * The chain at a log's end, read from its last `tailBytes` only (from the first entry there on,
 * taken as it stands): hashes, links, counts and checkpoints are checked from there, and the log
 * must end with a whole line exactly at its head, whose counts it takes. Undefined when any of
 * that does not hold: the caller verifies the whole log, which names the problem.
 */
export function verifyTail(path: string, head: HeadMark, tailBytes: number): ChainState | undefined {
  if (head.records === undefined || !endsWithNewline(path)) return undefined;
  const lines: string[] = [];
  let bytes = 0;
  let first: ParsedEntry | undefined;
  forEachLineBackward(path, (line) => {
    lines.push(line);
    bytes += Buffer.byteLength(line) + 1;
    if (bytes < tailBytes) return true;
    const e = parseEntry(line);
    if (typeof e === 'string') return true;
    first = e;
    return false;
  });
  // A log that small is read whole by the caller.
  if (first === undefined) return undefined;
  const before = recordsBefore(first);
  if (before === undefined) return undefined;
  const report = verifyLog(`${lines.reverse().join('\n')}\n`, { head, from: { seq: first.seq - 1, hash: first.prev, records: before, batches: 0, checkpoints: 0 } });
  if (!report.ok || report.tail.seq !== head.seq || report.tail.records !== head.records) return undefined;
  return { ...report.tail, batches: head.batches ?? 0, checkpoints: head.checkpoints ?? 0 };
}

const encoder = new TextEncoder();

/** The records in the log before an entry: a checkpoint's count, or a batch entry's count less what its batch holds. */
function recordsBefore(e: ParsedEntry): number | undefined {
  if ('checkpoint' in e.body) return e.body.checkpoint.count;
  try {
    return e.body.count - scanTraceBatch(encoder.encode(e.body.batch)).records;
  } catch {
    return undefined;
  }
}

function endsWithNewline(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const last = Buffer.alloc(1);
    return size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] === 10;
  } finally {
    closeSync(fd);
  }
}
