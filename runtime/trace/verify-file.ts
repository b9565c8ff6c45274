// verifyLog over a log file read in parts (log-lines.ts), so that a log larger than a string can
// be, or than a worker should hold, is verified all the same: each part continues the chain of
// the one before, and the log's end is checked with the last. A gap found in one part may be an
// entry that comes later (reordered, not deleted): the rest of the file is looked through for it.

import { EMPTY_CHAIN, type ChainState, type HeadMark } from './hash-chain.js';
import { forEachLine, LINE_CHUNK_BYTES } from './log-lines.js';
import { seqOf, verifyLog, type VerifyReport } from './verify-log.js';

/** The report on the whole file, and its size in bytes as read. */
export function verifyFile(path: string, head: HeadMark | null, partBytes = LINE_CHUNK_BYTES): { report: VerifyReport; size: number } {
  let chain: ChainState = { ...EMPTY_CHAIN };
  let firstLine = 1;
  let lines: string[] = [];
  let partSize = 0;
  let size = 0;
  let lineNo = 0;
  let failed: VerifyReport | undefined;
  /** A gap found before the end: the seq it lacks, looked for in the lines after it. */
  let lacking: { seq: number; report: VerifyReport & { ok: false } } | undefined;

  const check = (last: boolean, terminated: boolean): void => {
    const text = lines.length === 0 ? '' : lines.join('\n') + (terminated ? '\n' : '');
    const report = verifyLog(text, { head, from: chain, firstLine, more: !last });
    firstLine += lines.length;
    lines = [];
    partSize = 0;
    if (report.ok) chain = report.tail;
    else if (report.problem.kind === 'deleted' && !last) lacking = { seq: report.tail.seq + 1, report };
    else failed = report;
  };

  forEachLine(
    path,
    (line, terminated, bytes) => {
      lineNo += 1;
      size += bytes;
      if (lacking !== undefined) {
        if (seqOf(line) !== lacking.seq) return true;
        const p = lacking.report.problem;
        failed = { ...lacking.report, problem: { ...p, kind: 'reordered', detail: `seq ${p.seq ?? '-'} comes before seq ${lacking.seq} (line ${lineNo})` } };
        return false;
      }
      lines.push(line);
      partSize += bytes;
      if (terminated && partSize >= partBytes) check(false, true);
      if (failed !== undefined) return false;
      if (!terminated) check(true, false);
      return failed === undefined;
    },
    partBytes,
  );
  if (failed === undefined && lacking !== undefined) failed = lacking.report;
  if (failed === undefined && (lines.length > 0 || firstLine === 1 || head !== null)) check(true, true);
  return { report: failed ?? { ok: true, tail: chain }, size };
}
