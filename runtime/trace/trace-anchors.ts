// Anchors of file trace logs: now and then, a tracer publishes its log's head (the seq and hash of
// its last entry) into a JetStream stream that refuses deletes and purges, `<ns>-trace-anchors`
// (subject `<ns>.traceanchor.<node>.<log key>`, the key naming the log's absolute path). Whoever
// can write a log file can rewrite its whole chain and its head so that they verify; they cannot
// take back what the anchors hold without also administering the NATS server (a client that may
// publish there can add a false anchor, which makes verify fail, never pass). `aos trace verify LOG --anchors` checks the log against them. A
// tracer reaches the stream through the kernel tool `trace.anchor` (a worker holds no NATS
// connection); the node opens it (ActorSystem.openTraceAnchors, startTracer's `anchorEveryMs`).

import { createHash } from 'node:crypto';
import { type NatsConnection, RetentionPolicy, StorageType } from 'nats';
import { z } from 'zod';
import { aosError } from '../errors/aos-error.js';
import type { ChainState } from './hash-chain.js';
import type { ChainProblem } from './verify-log.js';

/** What a tracer asks the kernel to anchor: its log (an absolute path) and the log's head. */
export const anchorArgs = z.object({
  log: z.string().min(1),
  seq: z.number().int().min(1),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  records: z.number().int().min(0),
});

/** One anchor as the stream holds it: the log's head, who anchored it, and when. */
export interface Anchor extends z.infer<typeof anchorArgs> {
  node: string;
  tracer: string;
  at: number;
}

const anchorSchema = anchorArgs.extend({ node: z.string(), tracer: z.string(), at: z.number() });

const JS_STREAM_NOT_FOUND = 10059;

/** The anchors stream of a namespace. */
export function anchorStream(namespace: string): string {
  return `${namespace.replace(/[^A-Za-z0-9_-]/g, '_')}-trace-anchors`;
}

/** A log's key in anchor subjects: 16 hex digits of the sha256 of its absolute path. */
export function logKey(log: string): string {
  return createHash('sha256').update(log).digest('hex').slice(0, 16);
}

/** The subject of one node's anchors of one log (`node`: `*` for any node's). */
export function anchorSubject(namespace: string, node: string, log: string): string {
  return `${namespace}.traceanchor.${node}.${logKey(log)}`;
}

/** Opens the namespace's anchors stream, creating it (file storage, no limits, deletes and purges refused) if missing; its name. */
export async function openAnchorStream(nc: NatsConnection, namespace: string): Promise<string> {
  const name = anchorStream(namespace);
  const jsm = await nc.jetstreamManager();
  try {
    const { config } = await jsm.streams.info(name);
    if (config.deny_delete !== true || config.deny_purge !== true) {
      throw aosError('ERR_CONFIG', `the trace anchors stream ${name} allows its messages to be deleted or purged: anchors there prove nothing`, { stream: name });
    }
    return name;
  } catch (err) {
    if ((err as { api_error?: { err_code?: number } }).api_error?.err_code !== JS_STREAM_NOT_FOUND) {
      if ((err as { code?: unknown }).code === 'ERR_CONFIG') throw err;
      throw aosError('ERR_TRACE_LOG', `cannot open the trace anchors stream ${name}`, { stream: name }, err);
    }
  }
  await jsm.streams.add({
    name,
    subjects: [`${namespace}.traceanchor.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    deny_delete: true,
    deny_purge: true,
  });
  return name;
}

/** Publishes an anchor; resolves with its stream sequence once JetStream has stored it. */
export async function publishAnchor(nc: NatsConnection, namespace: string, anchor: Anchor): Promise<number> {
  const ack = await nc.jetstream().publish(anchorSubject(namespace, anchor.node, anchor.log), new TextEncoder().encode(JSON.stringify(anchor)));
  return ack.seq;
}

/** The anchors of one log (its absolute path), oldest first, read from its subjects only; the stream's name. ERR_TRACE_LOG without the stream. */
export async function readAnchors(nc: NatsConnection, namespace: string, log: string): Promise<{ stream: string; subject: string; anchors: Anchor[] }> {
  const stream = anchorStream(namespace);
  const subject = anchorSubject(namespace, '*', log);
  const anchors: Anchor[] = [];
  try {
    const { state } = await (await nc.jetstreamManager()).streams.info(stream, { subjects_filter: subject });
    const count = Object.values(state.subjects ?? {}).reduce((a, b) => a + b, 0);
    if (count === 0) return { stream, subject, anchors };
    // One filter subject, not a list: nats-server 2.9 (Debian's) has no multi-subject filters, and a consumer asking for them never delivers.
    const iter = await (await nc.jetstream().consumers.get(stream, { filterSubjects: subject })).consume({ max_messages: 256 });
    try {
      for await (const m of iter) {
        const a = anchorSchema.safeParse(parseJson(m.data));
        if (a.success && a.data.log === log) anchors.push(a.data);
        if (m.info.pending === 0) break;
      }
    } finally {
      iter.stop();
    }
  } catch (err) {
    throw aosError('ERR_TRACE_LOG', `cannot read the trace anchors stream ${stream} (a node makes it when its tracer anchors its log: startTracer's anchorEveryMs)`, { stream }, err);
  }
  return { stream, subject, anchors };
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined; // not an anchor: someone else's message on the subject
  }
}

/** What checking a log against its anchors found: how many matched, how many lie before the log's oldest entry here, and the newest. */
export interface AnchorCheck {
  matched: number;
  before: number;
  newest: Anchor | undefined;
}

/**
 * Checks a verified log against its anchors: every anchored seq the log holds must carry the
 * anchored hash, and the log must reach the newest anchor. `hashes`: the hash of each anchored
 * seq found in the log; `startsAt`: its oldest entry, when the entries before it are gone.
 */
export function checkAnchors(anchors: readonly Anchor[], hashes: ReadonlyMap<number, string>, tail: ChainState, startsAt: number | undefined): AnchorCheck | ChainProblem {
  const check: AnchorCheck = { matched: 0, before: 0, newest: undefined };
  for (const a of anchors) {
    if (check.newest === undefined || a.seq > check.newest.seq) check.newest = a;
    if (startsAt !== undefined && a.seq < startsAt) {
      check.before++;
      continue;
    }
    const when = `${new Date(a.at).toISOString()} (${a.tracer})`;
    if (a.seq > tail.seq) return { kind: 'truncated', line: 0, seq: a.seq, detail: `the log ends at seq ${tail.seq}; its anchor of ${when} says it had reached seq ${a.seq}` };
    const hash = hashes.get(a.seq);
    if (hash !== a.hash) {
      return { kind: 'edited', line: 0, seq: a.seq, detail: `its hash is ${hash?.slice(0, 12) ?? 'missing'}; its anchor of ${when} says ${a.hash.slice(0, 12)}: the chain was rewritten at or before seq ${a.seq}` };
    }
    check.matched++;
  }
  return check;
}
