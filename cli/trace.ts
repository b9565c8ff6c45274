// `aos trace tail|show|stats|html`: exploring the trace. tail is a bystander on `<ns>.trace.>` (it
// never answers a batch: the tracer does), or prints the last records of a trace stream; show,
// stats and html read a hash-chained log file or stream, or ask the namespace's tracer
// (`<ns>.ctl.all.trace`) and take the first answer.

import { writeFileSync } from 'node:fs';
import type { Msg, NatsConnection } from 'nats';
import { aosError, fromWire } from '../runtime/errors/aos-error.js';
import { verifyLogFile } from '../runtime/trace/file-log.js';
import { forEachEntry, forEachEntryBackward, verifyStream } from '../runtime/trace/stream-log.js';
import type { TraceRecord } from '../runtime/trace/records.js';
import { decodeTraceBatch } from '../runtime/trace/trace-codec.js';
import { ChainCollector, chainOfFile, eachLine, StatsCollector, statsOfFile, TailCollector } from '../runtime/trace/log-query.js';
import { buildCausalTree, DEFAULT_TAIL_LIMIT, recordsOfEntry, tail, type ActorStats } from '../runtime/trace/trace-query.js';
import type { TraceHtmlFlags, TraceShowFlags, TraceSourceFlags, TraceStatsFlags, TraceTailFlags } from './args.js';
import { connectNats, DEFAULT_NAMESPACE, DEFAULT_NATS_URL, gather, namespaceSubjects } from './control-client.js';
import { progress, readProgress } from './output.js';
import { renderTraceHtml } from './trace-html.js';
import { isDenied, renderStats, renderTree, tailLine } from './trace-text.js';

export const DEFAULT_TRACE_TIMEOUT_MS = 2_000;
/** Batches remembered per tail, to drop a re-sent one (the kernel re-sends until the tracer acks). */
const SEEN_BATCHES = 4_096;

export async function runTraceTail(flags: TraceTailFlags): Promise<number> {
  if (flags.stream !== undefined) {
    const filters = { limit: flags.limit ?? DEFAULT_TAIL_LIMIT, ...(flags.actor === undefined ? {} : { actor: flags.actor }), ...(flags.type === undefined ? {} : { type: flags.type }) };
    const c = new TailCollector(filters, flags.denied === true ? isDenied : undefined);
    await readingStream(flags.nats, flags.stream, (nc, stream) => forEachEntryBackward(nc, stream, (text) => c.add(text)));
    for (const r of c.result()) process.stdout.write(flags.json === true ? `${JSON.stringify(r)}\n` : `${tailLine(r)}\n`);
    return 0;
  }
  const url = flags.nats ?? DEFAULT_NATS_URL;
  const subjects = namespaceSubjects(flags.namespace ?? DEFAULT_NAMESPACE);
  const nc = await connectNats(url, 'aos-trace-tail');
  const subject = `${subjects.prefix}.trace.>`;
  const seen = new Set<string>();
  let printed = 0;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  const onBatch = (msg: Msg): void => {
    if (flags.limit !== undefined && printed >= flags.limit) return; // more batches may come before the subscription ends
    let batch;
    try {
      batch = decodeTraceBatch(msg.data);
    } catch (err) {
      progress(`ignored a message on ${msg.subject} that is not a trace batch (${(err as Error).message})`);
      return;
    }
    const key = `${batch.node} ${batch.batch}`;
    if (seen.has(key)) return;
    seen.add(key);
    if (seen.size > SEEN_BATCHES) seen.delete(seen.values().next().value!);
    const filters = { limit: batch.records.length, ...(flags.actor === undefined ? {} : { actor: flags.actor }), ...(flags.type === undefined ? {} : { type: flags.type }) };
    for (const r of tail(batch.records, filters)) {
      if (flags.denied === true && !isDenied(r)) continue;
      process.stdout.write(flags.json === true ? `${JSON.stringify(r)}\n` : `${tailLine(r)}\n`);
      if (flags.limit !== undefined && ++printed >= flags.limit) return finish();
    }
  };
  // No reply, ever: a bystander's ack would tell the kernel a batch is logged when it may not be.
  const sub = nc.subscribe(subject, { callback: (err, msg) => (err === null ? onBatch(msg) : undefined) });
  const onSigint = (): void => finish();
  process.once('SIGINT', onSigint);
  try {
    await nc.flush();
    progress(`listening on ${subject} at ${url} (Ctrl-C to stop)`);
    const lost = nc.closed().then((err) => {
      if (err) throw aosError('ERR_TRANSPORT', `lost the NATS connection to ${url}`, { url }, err);
    });
    await Promise.race([done, lost]);
  } finally {
    process.off('SIGINT', onSigint);
    sub.unsubscribe();
    if (!nc.isClosed()) await nc.close();
  }
  return 0;
}

export async function runTraceShow(flags: TraceShowFlags): Promise<number> {
  const chain = await chainFrom(flags, flags.correlationId);
  if (chain === undefined) return 1;
  const tree = buildCausalTree(chain.records);
  process.stdout.write(flags.json === true ? `${JSON.stringify({ correlationId: chain.correlationId, ...tree }, null, 2)}\n` : renderTree(chain.correlationId, chain.records, tree));
  return 0;
}

export async function runTraceStats(flags: TraceStatsFlags): Promise<number> {
  let actors: ActorStats[];
  if (flags.file !== undefined || flags.stream !== undefined) {
    if (flags.file !== undefined) {
      checkLog(flags.file);
      actors = readingLog(flags.file, () => statsOfFile(flags.file!));
    } else {
      const c = new StatsCollector();
      await readingStream(flags.nats, flags.stream!, (nc, stream) => forEachEntry(nc, stream, (e) => c.add(e.text)));
      actors = c.result();
    }
  } else {
    const answer = await askTracer(flags, { op: 'stats', kind: 'stats' });
    if (answer === undefined) return 1;
    if (!Array.isArray(answer['actors'])) {
      unexpected(answer);
      return 1;
    }
    actors = answer['actors'] as ActorStats[];
  }
  process.stdout.write(flags.json === true ? `${JSON.stringify(actors, null, 2)}\n` : renderStats(actors));
  return 0;
}

export async function runTraceHtml(flags: TraceHtmlFlags): Promise<number> {
  const chain = await chainFrom(flags, flags.correlationId);
  if (chain === undefined) return 1;
  const page = renderTraceHtml(chain.records, { correlationId: chain.correlationId });
  if (flags.out === '-') {
    process.stdout.write(page);
    return 0;
  }
  const out = flags.out ?? `trace-${chain.correlationId}.html`;
  try {
    writeFileSync(out, page);
  } catch (err) {
    throw aosError('ERR_CONFIG', `cannot write the page to ${out}`, { file: out }, err);
  }
  process.stdout.write(`${out}\n`);
  return 0;
}

// ---- where the records come from ---------------------------------------------------

interface Chain {
  correlationId: string;
  records: TraceRecord[];
}

/** One chain's records, from the log file or the tracer; undefined (said on stderr) when there is none. */
async function chainFrom(flags: TraceSourceFlags, asked: string): Promise<Chain | undefined> {
  if (flags.file !== undefined) return chainOfLog(flags.file, asked);
  if (flags.stream !== undefined) {
    return readingStream(flags.nats, flags.stream, async (nc, stream) => {
      const chainOfStream = async (id: string) => {
        const c = new ChainCollector(id);
        await forEachEntry(nc, stream, (e) => c.add(e.text));
        return c.result();
      };
      const records = await chainOfStream(asked);
      if (records.length > 0) return { correlationId: asked, records };
      const ids = new Set<string>();
      await forEachEntry(nc, stream, (e) => void correlationIds(recordsOfEntry(e.text), ids));
      const correlationId = resolveChain(ids, asked);
      return correlationId === undefined ? undefined : { correlationId, records: await chainOfStream(correlationId) };
    });
  }
  const answer = await askTracer(flags, { op: 'show', kind: 'show', correlationId: asked });
  if (answer === undefined) return undefined;
  if (!Array.isArray(answer['records'])) return unexpected(answer);
  const records = answer['records'] as TraceRecord[];
  if (records.length === 0) {
    progress(`the tracer has no record of chain ${asked}`);
    return undefined;
  }
  return { correlationId: asked, records };
}

/** The chain ids of records. */
function correlationIds(records: Iterable<TraceRecord>, into = new Set<string>()): Set<string> {
  for (const r of records) {
    const c = (r as { correlationId?: unknown }).correlationId;
    if (typeof c === 'string') into.add(c);
  }
  return into;
}

/** A chain of a log file, read line by line: the id given; failing that, every chain id is read to find the one it abbreviates. */
function chainOfLog(file: string, asked: string): Chain | undefined {
  checkLog(file);
  return readingLog(file, () => {
    const records = chainOfFile(file, asked);
    if (records.length > 0) return { correlationId: asked, records };
    const ids = new Set<string>();
    const some: TraceRecord[] = [];
    eachLine(file, (line) => {
      some.length = 0;
      correlationIds(recordsOfEntry(line, some), ids);
    });
    const correlationId = resolveChain(ids, asked);
    return correlationId === undefined ? undefined : { correlationId, records: chainOfFile(file, correlationId) };
  });
}

/** The chain's full id: the one given, or the only one it abbreviates (8 hex digits or more). */
function resolveChain(ids: ReadonlySet<string>, asked: string): string | undefined {
  if (ids.has(asked)) return asked;
  const matches = asked.length >= 8 ? [...ids].filter((c) => c.startsWith(asked)) : [];
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) progress(`${asked} abbreviates ${matches.length} chains: ${matches.slice(0, 5).join(', ')}${matches.length > 5 ? ', …' : ''}`);
  else progress(`no record of chain ${asked} in the log (${ids.size} chain${ids.size === 1 ? '' : 's'} there)`);
  return undefined;
}

/** Warns (stderr) when a log does not verify: what it holds is shown anyway. A missing file is ERR_TRACE_LOG. */
function checkLog(file: string): void {
  const report = verifyLogFile(file, readProgress(`verifying ${file}`, 'MB'));
  if (!report.ok) {
    const p = report.problem;
    progress(`warning: ${file} does not verify (${p.kind}${p.line === 0 ? '' : ` at line ${p.line}`}): showing what it holds; \`aos trace verify ${file}\` says more`);
  }
}

/** What `read` finds in a log file (read line by line); a file that cannot be read is ERR_TRACE_LOG. */
function readingLog<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    throw aosError('ERR_TRACE_LOG', `cannot read the trace log ${file}`, { file }, err);
  }
}

/** What `read` finds in a trace stream, a message at a time; warns (stderr) when it does not verify, and reads it anyway. No such stream is ERR_TRACE_LOG. */
async function readingStream<T>(nats: string | undefined, stream: string, read: (nc: NatsConnection, stream: string) => Promise<T>): Promise<T> {
  const url = nats ?? DEFAULT_NATS_URL;
  const nc = await connectNats(url, 'aos-trace');
  try {
    const report = await verifyStream(nc, stream, readProgress(`verifying the stream ${stream}`, 'messages'));
    if (!report.ok) {
      const p = report.problem;
      progress(`warning: the stream ${stream} does not verify (${p.kind} at stream sequence ${p.line}): showing what it holds; \`aos trace verify --stream ${stream}\` says more`);
    }
    return await read(nc, stream);
  } finally {
    await nc.close();
  }
}

/** Asks the namespace's tracers; the first answer, or undefined (said on stderr) when none came. An answer `{error}` is thrown. */
async function askTracer(flags: TraceSourceFlags, body: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  const url = flags.nats ?? DEFAULT_NATS_URL;
  const namespace = flags.namespace ?? DEFAULT_NAMESPACE;
  const timeoutMs = flags.timeoutMs ?? DEFAULT_TRACE_TIMEOUT_MS;
  const subjects = namespaceSubjects(namespace);
  const nc = await connectNats(url, 'aos-trace');
  let replies: Record<string, unknown>[];
  let nobodyListens: boolean;
  try {
    ({ replies, nobodyListens } = await gather<Record<string, unknown>>(nc, subjects.control('all', 'trace'), { windowMs: timeoutMs, body, enough: (r) => r.length > 0 }));
  } finally {
    await nc.close();
  }
  const answer = replies[0];
  if (answer === undefined) {
    progress(nobodyListens ? `no node listens on ${url} in namespace ${namespace}` : `no tracer answered on ${url} in namespace ${namespace} within ${timeoutMs} ms (or read a log with --file)`);
    return undefined;
  }
  if (answer['error'] !== undefined) throw fromWire(answer['error']);
  return answer;
}

function unexpected(answer: unknown): undefined {
  progress(`the tracer's answer is not one this aos reads: ${JSON.stringify(answer).slice(0, 200)}`);
  return undefined;
}
