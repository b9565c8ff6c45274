// Raw NATS clients for tests: an outside client (plain `nats` package, JSON bodies), and
// collectors that resolve when the expected messages have arrived.

import { connect, headers, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from 'nats';
import { inject, onTestFinished } from 'vitest';
import { CONTENT_TYPE_HEADER, CT_ENVELOPE, decodeEnvelope, encodeEnvelope, encodeValue, newMessageId, type Envelope } from 'autonomy-os/internal';
import { deferred, DEFAULT_DEADLINE_MS } from './deferred.js';
import { clusterKeyOf } from './system.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A raw connection to the test server, closed when the test finishes. */
export async function rawClient(): Promise<NatsConnection> {
  const nc = await connect({ servers: inject('natsUrl'), name: 'test-raw-client' });
  onTestFinished(async () => {
    if (!nc.isClosed()) await nc.close();
  });
  return nc;
}

export function json(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function parseJson<T = unknown>(data: Uint8Array): T {
  return JSON.parse(decoder.decode(data)) as T;
}

export function hdrs(entries: Record<string, string>): MsgHdrs {
  const h = headers();
  for (const [k, v] of Object.entries(entries)) h.set(k, v);
  return h;
}

/** Everything that arrives on a subscription, with a way to wait for the n-th message. */
export class Collector {
  readonly messages: Msg[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  readonly sub: Subscription;

  constructor(nc: NatsConnection, subject: string) {
    this.sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err !== null) return;
        this.messages.push(msg);
        this.waiters = this.waiters.filter((w) => {
          if (this.messages.length < w.n) return true;
          w.resolve();
          return false;
        });
      },
    });
  }

  get count(): number {
    return this.messages.length;
  }

  json<T = unknown>(): T[] {
    return this.messages.map((m) => parseJson<T>(m.data));
  }

  /** Resolves once at least `n` messages have arrived (rejects after the deadline). */
  async waitFor(n: number, ms = DEFAULT_DEADLINE_MS): Promise<Msg[]> {
    if (this.messages.length < n) {
      const d = deferred<void>();
      this.waiters.push({ n, resolve: () => d.resolve() });
      await d.wait(ms, `${n} messages on ${this.sub.getSubject()} (have ${this.messages.length})`);
    }
    return this.messages;
  }
}

/** Subscribes and makes sure the server has the interest before returning. */
export async function collect(nc: NatsConnection, subject: string): Promise<Collector> {
  const c = new Collector(nc, subject);
  await nc.flush();
  return c;
}

/** The shape of a dead letter body (JSON). */
export interface DeadLetterBody {
  reason: { code: string; message: string; details?: Record<string, unknown> };
  node: string;
  type: string;
  subject: string;
  payload: string;
  size: number;
  truncated: boolean;
  envelope?: { id: string; from: string; to: string; kind: string };
}

/** Answers an ask the way a node would: a reply envelope (msgpack), sealed with the namespace's cluster key, on the message's reply subject. */
export function replyAsActor(msg: Msg, from: string, value: unknown): void {
  const namespace = msg.subject.slice(0, msg.subject.indexOf('.'));
  const key = clusterKeyOf(namespace);
  if (key === undefined) throw new Error(`no node of the tests runs in namespace ${namespace}: no cluster key to seal with`);
  const asked = decodeEnvelope(msg.data);
  const reply: Envelope = {
    kind: 'reply',
    id: newMessageId(),
    from,
    to: asked.from,
    correlationId: asked.correlationId,
    causationId: asked.id,
    sentAt: Date.now(),
    attempt: 0,
    format: 'msgpack',
    payload: encodeValue(value, 'msgpack'),
  };
  msg.respond(encodeEnvelope(reply, key), { headers: hdrs({ [CONTENT_TYPE_HEADER]: CT_ENVELOPE }) });
}
