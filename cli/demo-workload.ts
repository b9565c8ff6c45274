// The demo's outside client: a plain `nats` connection (it imports nothing of the runtime),
// as any service in any language would be. It sends a scripted set of tickets as JSON
// requests, collects the replies, and watches the dead-letter subjects.

import { connect, type NatsConnection } from 'nats';

export interface Send {
  /** The ticket id, for the report (also inside the body when the body is valid). */
  id: string;
  subject: string;
  /** The exact bytes sent: JSON, or something that is not. */
  body: string;
  /** What a good run gives: a resolution, or a typed error with this code. */
  expect: 'resolved' | `ERR_${string}`;
}

export interface Outcome {
  send: Send;
  ms: number;
  reply?: { route?: string[]; by?: string; resolution?: string };
  error?: { code: string; message: string; details?: { issues?: { path: string[]; message: string }[] } };
}

export interface DeadLetterSeen {
  code: string;
  /** Where the dead letter was published (`aos.dead.<type>`). */
  on: string;
  /** The subject of the message that died. */
  subject: string;
  /** The original bytes as text. */
  body: string;
}

const ticket = (id: string, subject: string, body?: string) => JSON.stringify(body === undefined ? { id, subject } : { id, subject, body });

/** Five tickets through triage, one of bad JSON, one that breaks the schema, four straight to the billing queue. */
export function workload(ns: string): Send[] {
  const tickets = `${ns}.task.tickets`;
  const billing = `${ns}.task.billing`;
  return [
    { id: 'T-1', subject: tickets, body: ticket('T-1', 'refund please', 'I cancelled last week'), expect: 'resolved' },
    { id: 'T-2', subject: tickets, body: ticket('T-2', 'app crashes on start'), expect: 'resolved' },
    { id: 'T-3', subject: tickets, body: ticket('T-3', 'invoice for March'), expect: 'resolved' },
    { id: 'T-4', subject: tickets, body: ticket('T-4', 'cannot log in'), expect: 'resolved' },
    { id: 'T-5', subject: tickets, body: ticket('T-5', 'charged twice this month'), expect: 'resolved' },
    { id: 'T-6', subject: tickets, body: '{"id":"T-6","subject":"printer on fire"', expect: 'ERR_DECODE' },
    { id: 'T-7', subject: tickets, body: '{"id":"T-7","priority":"high"}', expect: 'ERR_INPUT_SCHEMA' },
    // A billing portal that has already classified its tickets puts them straight on the
    // billing queue: the two billing instances share it (one NATS queue group per type).
    { id: 'T-8', subject: billing, body: ticket('T-8', 'refund for order 1182'), expect: 'resolved' },
    { id: 'T-9', subject: billing, body: ticket('T-9', 'invoice address change'), expect: 'resolved' },
    { id: 'T-10', subject: billing, body: ticket('T-10', 'payment failed'), expect: 'resolved' },
    { id: 'T-11', subject: billing, body: ticket('T-11', 'double charge on card'), expect: 'resolved' },
    // Refunds go through the payments tools: a small one is paid, a large one is held for a person (the policy's
    // approval rule) and answered at once; the demo's duty manager approves it once the tickets are in.
    { id: 'T-12', subject: billing, body: ticket('T-12', 'refund of 40 EUR', 'wrong size'), expect: 'resolved' },
    { id: 'T-13', subject: billing, body: ticket('T-13', 'refund of 750 EUR', 'cancelled the annual plan'), expect: 'resolved' },
  ];
}

export class OutsideClient {
  readonly deadLetters: DeadLetterSeen[] = [];
  private onDead: (() => void) | undefined;

  private constructor(private readonly nc: NatsConnection) {}

  static async connect(url: string, ns: string): Promise<OutsideClient> {
    const client = new OutsideClient(await connect({ servers: url, name: 'aos-demo-client' }));
    const sub = client.nc.subscribe(`${ns}.dead.>`);
    void (async () => {
      for await (const m of sub) {
        const letter = m.json<{ reason: { code: string }; subject: string; payload: string }>();
        client.deadLetters.push({ code: letter.reason.code, on: m.subject, subject: letter.subject, body: Buffer.from(letter.payload, 'base64').toString('utf8') });
        client.onDead?.();
      }
    })();
    await client.nc.flush(); // the dead-letter subscription is live before any ticket is sent
    return client;
  }

  /** Sends every ticket at once and resolves with the outcomes, in the order given. */
  sendAll(sends: Send[]): Promise<Outcome[]> {
    return Promise.all(sends.map((s) => this.send(s)));
  }

  private async send(send: Send): Promise<Outcome> {
    const t0 = performance.now();
    try {
      const msg = await this.nc.request(send.subject, new TextEncoder().encode(send.body), { timeout: 3_000 });
      const ms = performance.now() - t0;
      const body = msg.json<Outcome['reply'] & { error?: Outcome['error'] }>();
      if (body.error !== undefined) return { send, ms, error: body.error };
      return { send, ms, reply: body };
    } catch (err) {
      const e = err as { code?: string; message: string };
      return { send, ms: performance.now() - t0, error: { code: `nats ${e.code ?? 'error'}`, message: e.message } };
    }
  }

  /** Resolves once `count` dead letters have arrived, or after `timeoutMs` (they travel apart from the replies). */
  waitForDeadLetters(count: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.onDead = () => {
        if (this.deadLetters.length >= count) done();
      };
      this.onDead();
    });
  }

  close(): Promise<void> {
    return this.nc.drain();
  }
}
