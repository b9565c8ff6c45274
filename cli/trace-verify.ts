// `aos trace verify FILE | --stream NAME`: checks a hash-chained trace log, a file with its
// `<FILE>.head` sidecar (offline) or a JetStream stream (over --nats). Prints `ok: N records in B
// batches, M checkpoints, head <hash12> (seq S)` (exit 0), or the first problem, `FAIL: <kind> at
// line L (seq S[; node N, batch B, records X-Y]): <detail>` (exit 1; for a stream, `at stream
// sequence L; in an earlier segment of the file, `of the segment <file>`); --json prints the
// report instead. A log whose oldest segments were deleted by its retention or moved away, or a
// stream whose limits removed its oldest messages, is checked from the oldest entry left (`... (from
// seq S: ...)`); with --complete, entries missing from seq 1 that the log's own retention did not
// delete (no retention mark in the chain says so) fail it: `FAIL: deleted before seq S: ...`.
// With --anchors, a file log is also checked against the heads its tracer anchored in JetStream
// (trace-anchors.ts): `anchors: N matched in <stream> …`, or `FAIL: edited|truncated at seq S: …`,
// or `FAIL: no anchors: …`.

import { describeHead, headPathOf, verifyLogFile } from '../runtime/trace/file-log.js';
import type { ChainProblem, VerifyReport } from '../runtime/trace/verify-log.js';
import { verifyStream } from '../runtime/trace/stream-log.js';
import type { TraceVerifyFlags } from './args.js';
import { resolve } from 'node:path';
import { checkAnchors, readAnchors, type AnchorCheck } from '../runtime/trace/trace-anchors.js';
import { connectNats, DEFAULT_NAMESPACE, DEFAULT_NATS_URL } from './control-client.js';
import { progress, readProgress } from './output.js';

type Source = { file: string; headFile: 'checked' | 'missing'; startsAt?: number; deletedBefore?: number } | { stream: string; startsAt?: number };

/** What verify found: the chain's report, where the log starts, its anchors (--anchors), and a problem past the chain itself with how its FAIL line starts (--anchors, --complete). */
interface Checked {
  report: VerifyReport;
  source: Source;
  anchors?: { stream: string; check: AnchorCheck };
  beyond?: { problem: ChainProblem; head: string };
}

export async function runTraceVerify(flags: TraceVerifyFlags): Promise<number> {
  const c = flags.stream !== undefined ? await checkStream(flags.stream, flags.nats) : await checkFile(flags);
  if (c.report.ok && c.beyond === undefined && flags.complete === true) {
    const problem = completeness(c.source);
    if (problem !== undefined) c.beyond = { problem, head: `FAIL: deleted before seq ${problem.seq}` };
  }
  const report: VerifyReport = c.beyond === undefined ? c.report : { ok: false, tail: c.report.tail, problem: c.beyond.problem };
  const { tail } = report;
  const head = { seq: tail.seq, hash: tail.hash };
  if (flags.json === true) {
    const anchors = c.anchors === undefined ? {} : { anchors: anchorsJson(c.anchors.stream, c.anchors.check) };
    const out = { ok: report.ok, ...c.source, records: tail.records, batches: tail.batches, checkpoints: tail.checkpoints, head, ...anchors, ...(report.ok ? {} : { problem: report.problem }) };
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return report.ok ? 0 : 1;
  }
  if (c.beyond !== undefined) {
    process.stdout.write(`${c.beyond.head}: ${c.beyond.problem.detail}\n`);
    return 1;
  }
  const { source } = c;
  if (!report.ok) {
    const p = report.problem;
    const place = 'stream' in source ? `at stream sequence ${p.line}` : `at line ${p.line}${source.file === flags.file ? '' : ` of the segment ${source.file}`}`;
    const at = p.line === 0 ? `in ${headPathOf(flags.file!)}` : `${place} (seq ${p.seq ?? '-'}${holds(p)})`;
    process.stdout.write(`FAIL: ${p.kind} ${at}: ${p.detail}\n`);
    return 1;
  }
  if ('headFile' in source && source.headFile === 'missing') progress(`warning: no head file ${headPathOf(flags.file!)}: a cut-off tail cannot be detected`);
  const from = source.startsAt === undefined ? '' : ` (from seq ${source.startsAt}: ${missingBefore(source)})`;
  process.stdout.write(`ok: ${plural(tail.records, 'record')} in ${plural(tail.batches, 'batch', 'batches')}, ${plural(tail.checkpoints, 'checkpoint')}, ${describeHead(head)}${from}\n`);
  if (c.anchors !== undefined) process.stdout.write(`${anchorsLine(c.anchors.stream, c.anchors.check)}\n`);
  return 0;
}

async function checkStream(stream: string, url: string | undefined): Promise<Checked> {
  const nc = await connectNats(url ?? DEFAULT_NATS_URL, 'aos-trace-verify');
  try {
    const report = await verifyStream(nc, stream, readProgress(`verifying the stream ${stream}`, 'messages'));
    return { report, source: { stream, ...(report.startsAt === undefined ? {} : { startsAt: report.startsAt }) } };
  } finally {
    await nc.close();
  }
}

/** A file log with its segments; with --anchors, against the heads its tracer anchored (read first, so only their seqs' hashes are kept). */
async function checkFile(flags: TraceVerifyFlags): Promise<Checked> {
  const file = flags.file!;
  const anchored = flags.anchors === true ? await anchorsOf(flags) : undefined;
  const wanted = new Set(anchored?.anchors.map((a) => a.seq));
  const hashes = new Map<number, string>();
  const onEntry = anchored === undefined ? undefined : (seq: number, hash: string): void => void (wanted.has(seq) && hashes.set(seq, hash));
  const report = verifyLogFile(file, readProgress(`verifying ${file}`, 'MB'), onEntry);
  const source: Source = {
    file: report.file,
    headFile: report.headFile,
    ...(report.startsAt === undefined ? {} : { startsAt: report.startsAt }),
    ...(report.tail.deletedBefore === undefined ? {} : { deletedBefore: report.tail.deletedBefore }),
  };
  if (anchored === undefined || !report.ok) return { report, source };
  if (anchored.anchors.length === 0) {
    const detail = `no anchors of ${resolve(file)} in the stream ${anchored.stream} (on ${anchored.subject}): was it anchored (startTracer's anchorEveryMs, aos start --trace-anchor-s) under this path, in this namespace?`;
    return { report, source, beyond: { problem: { kind: 'deleted', line: 0, seq: null, detail }, head: 'FAIL: no anchors' } };
  }
  const check = checkAnchors(anchored.anchors, hashes, report.tail, report.startsAt);
  if ('kind' in check) return { report, source, beyond: { problem: check, head: `FAIL: ${check.kind} at seq ${check.seq ?? '-'}` } };
  return { report, source, anchors: { stream: anchored.stream, check } };
}

/** The anchors of the log FILE (its absolute path), from the namespace's anchors stream. */
async function anchorsOf(flags: TraceVerifyFlags): Promise<Awaited<ReturnType<typeof readAnchors>>> {
  const nc = await connectNats(flags.nats ?? DEFAULT_NATS_URL, 'aos-trace-verify');
  try {
    return await readAnchors(nc, flags.namespace ?? DEFAULT_NAMESPACE, resolve(flags.file!));
  } finally {
    await nc.close();
  }
}

function anchorsJson(stream: string, c: AnchorCheck): object {
  return { stream, matched: c.matched, before: c.before, ...(c.newest === undefined ? {} : { newest: { seq: c.newest.seq, at: c.newest.at, tracer: c.newest.tracer } }) };
}

/** `anchors: 12 matched in aos-trace-anchors (2 before the log's oldest entry here), the newest at seq 345, <time> (tracer/n1)`. */
function anchorsLine(stream: string, c: AnchorCheck): string {
  const before = c.before === 0 ? '' : ` (${c.before} before the log's oldest entry here)`;
  const newest = c.newest === undefined ? '' : `, the newest at seq ${c.newest.seq}, ${new Date(c.newest.at).toISOString()} (${c.newest.tracer})`;
  return `anchors: ${c.matched} matched in ${stream}${before}${newest}`;
}

/** Why a log starts after seq 1: a stream's limits, the log's own retention (its mark says so), or neither (moved away, or deleted otherwise). */
function missingBefore(source: Source): string {
  if ('stream' in source) return "the stream's limits removed the entries before it";
  return retained(source) ? "the log's retention deleted the segments before it" : 'the segments before it are not here';
}

/** The log's own retention accounts for every entry missing before its oldest segment here. */
function retained(source: { startsAt?: number; deletedBefore?: number }): boolean {
  return source.startsAt !== undefined && source.deletedBefore !== undefined && source.deletedBefore >= source.startsAt;
}

/**
 * --complete: the problem with a log that starts after seq 1 when its own retention did not
 * delete what is missing (a stream's limits leave no mark in it); `line` 0: before the first entry.
 */
function completeness(source: Source): ChainProblem | undefined {
  const { startsAt } = source;
  if (startsAt === undefined || (!('stream' in source) && retained(source))) return undefined;
  const missing = startsAt === 2 ? 'seq 1 is' : `seqs 1 to ${startsAt - 1} are`;
  const why = 'stream' in source ? "the stream's limits or a purge removed them" : "no retention mark in the log says it deleted them (moved away, or deleted by hand)";
  return { kind: 'deleted', line: 0, seq: startsAt, detail: `${missing} not here; ${why}` };
}

/** `; node n1, batch 17, records 1201-3400`: what the entry at the problem holds, when it reads. */
export function holds(p: ChainProblem): string {
  if (p.entry === undefined) return '';
  const [first, last] = p.entry.records;
  return `; node ${p.entry.node}, batch ${p.entry.batch}, ${first > last ? 'no records' : first === last ? `record ${first}` : `records ${first}-${last}`}`;
}

function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}
