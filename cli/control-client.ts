// The CLI's side of the control plane: one NATS connection, the namespace's governance store
// (JetStream KV), and scatter-gather requests on `<ns>.ctl.all.<verb>`: one request with a reply
// inbox, every node's JSON answer within a window. The server's no-responders status (503)
// means no node listens: the wait ends at once.

import { setTimeout as sleep } from 'node:timers/promises';
import { connect, createInbox, type NatsConnection } from 'nats';
import { aosError, GovernanceStore, Subjects } from '../internal.js';
import { UsageError } from './args.js';
import { progress } from './output.js';

export const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
export const DEFAULT_NAMESPACE = 'aos';

/** The namespace's subjects; a bad --namespace is a usage error. */
export function namespaceSubjects(namespace: string): Subjects {
  try {
    return new Subjects(namespace);
  } catch (err) {
    throw new UsageError(`--namespace: ${(err as Error).message}`);
  }
}

/** A connection for one command: no reconnects (a command that lost NATS should say so, not wait). */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: url, name, reconnect: false, timeout: 5_000 });
  } catch (err) {
    throw aosError('ERR_TRANSPORT', `cannot connect to NATS at ${url}`, { url }, err);
  }
}

/** The server has no JetStream, so there is no store the nodes of a namespace agree on. */
export class NoJetStreamError extends Error {
  constructor(readonly url: string) {
    super(`the NATS server at ${url} has no JetStream, so there is no policy store (KV) for the nodes to share: run nats-server with -js`);
  }
}

/** The namespace's governance bucket (created if missing); NoJetStreamError without JetStream. */
export async function openGovernanceStore(nc: NatsConnection, namespace: string, url: string): Promise<GovernanceStore> {
  const store = await GovernanceStore.open(nc, namespace);
  if (store === undefined) throw new NoJetStreamError(url);
  return store;
}

export interface Gathered<T> {
  replies: T[];
  /** The server said no one subscribes to the subject. */
  nobodyListens: boolean;
}

export interface GatherOptions<T> {
  /** How long to collect replies, at most. */
  windowMs: number;
  /** The request body (JSON); none by default. */
  body?: unknown;
  /** Ends the window early once the replies so far are enough. */
  enough?: (replies: readonly T[]) => boolean;
}

/** Publishes one request with a reply inbox and keeps every JSON reply that arrives within the window. */
export async function gather<T>(nc: NatsConnection, subject: string, opts: GatherOptions<T>): Promise<Gathered<T>> {
  const replies: T[] = [];
  const decoder = new TextDecoder();
  const done = new AbortController();
  let nobodyListens = false;
  const inbox = createInbox();
  const sub = nc.subscribe(inbox, {
    callback: (err, msg) => {
      if (err !== null || done.signal.aborted) return;
      if (msg.headers?.code === 503) {
        nobodyListens = true;
        return done.abort();
      }
      try {
        replies.push(JSON.parse(decoder.decode(msg.data)) as T);
      } catch {
        progress(`ignored a reply that is not JSON (${msg.data.length} bytes)`);
        return;
      }
      if (opts.enough?.(replies) === true) done.abort();
    },
  });
  try {
    const body = opts.body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(opts.body));
    nc.publish(subject, body, { reply: inbox });
    await nc.flush(); // the request is on the server: the window starts now
    await sleep(opts.windowMs, undefined, { signal: done.signal }).catch(() => undefined);
  } finally {
    sub.unsubscribe();
  }
  return { replies, nobodyListens };
}
