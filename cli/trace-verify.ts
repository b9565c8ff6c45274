// `aos trace verify FILE`: checks a hash-chained trace log and its `<FILE>.head` sidecar offline.
// Prints `ok: N records, M checkpoints, head <hash12> (seq S)` (exit 0), or the first problem,
// `FAIL: <kind> at line L (seq S): <detail>` (exit 1); --json prints the report instead.

import { describeHead, headPathOf, verifyLogFile } from '../runtime/trace/file-log.js';
import type { TraceVerifyFlags } from './args.js';
import { progress } from './output.js';

export async function runTraceVerify(flags: TraceVerifyFlags): Promise<number> {
  const report = verifyLogFile(flags.file);
  const { tail } = report;
  const head = { seq: tail.seq, hash: tail.hash };
  if (flags.json === true) {
    const out = { ok: report.ok, file: report.file, records: tail.records, checkpoints: tail.checkpoints, head, headFile: report.headFile, ...(report.ok ? {} : { problem: report.problem }) };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return report.ok ? 0 : 1;
  }
  if (!report.ok) {
    const p = report.problem;
    const at = p.line === 0 ? `in ${headPathOf(flags.file)}` : `at line ${p.line} (seq ${p.seq ?? '-'})`;
    process.stdout.write(`FAIL: ${p.kind} ${at}: ${p.detail}\n`);
    return 1;
  }
  if (report.headFile === 'missing') progress(`warning: no head file ${headPathOf(flags.file)}: a cut-off tail cannot be detected`);
  process.stdout.write(`ok: ${plural(tail.records, 'record')}, ${plural(tail.checkpoints, 'checkpoint')}, ${describeHead(head)}\n`);
  return 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
