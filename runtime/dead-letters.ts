// Dead letters: a message the runtime could not deliver or handle is published, with the
// reason, as JSON on `<ns>.dead.<type>` (readable by any client) and logged. This is the
// "never silently lost" path for malformed, rejected, unroutable and failed messages.

import type { Logger } from 'pino';
import type { Envelope } from './envelope.js';
import type { AosError } from './errors/aos-error.js';
import type { Subjects } from './subjects.js';
import type { NatsTransport } from './transport/nats-transport.js';

/** At most this much of the original payload travels in a dead letter (base64). */
export const DEAD_LETTER_PAYLOAD_LIMIT = 64 * 1024;

export interface DeadLetter {
  reason: { code: string; message: string; details?: Record<string, unknown> };
  node: string;
  /** The actor type it was for (the `<type>` of the subject). */
  type: string;
  subject: string;
  deadAt: number;
  envelope?: Omit<Envelope, 'payload' | 'error'>;
  format?: string;
  /** The original payload, base64 (cut at DEAD_LETTER_PAYLOAD_LIMIT bytes; see `truncated`). */
  payload: string;
  size: number;
  truncated: boolean;
}

const encoder = new TextEncoder();

export class DeadLetters {
  /** Dead letters published by this node since start. */
  count = 0;

  constructor(
    private readonly transport: NatsTransport,
    private readonly subjects: Subjects,
    private readonly nodeId: string,
    private readonly log: Logger,
    private readonly now: () => number,
    /** Called for each dead letter that has an envelope (its trace record). */
    private readonly onDead: (env: Envelope, subject: string, code: string) => void = () => undefined,
  ) {}

  publish(type: string, subject: string, reason: AosError, env: Envelope | undefined, raw?: Uint8Array): void {
    if (env !== undefined) this.onDead(env, subject, reason.code);
    const bytes = env?.payload ?? raw ?? new Uint8Array();
    const cut = bytes.length > DEAD_LETTER_PAYLOAD_LIMIT;
    const letter: DeadLetter = {
      reason: reason.toWire(true) as DeadLetter['reason'],
      node: this.nodeId,
      type,
      subject,
      deadAt: this.now(),
      payload: Buffer.from(cut ? bytes.subarray(0, DEAD_LETTER_PAYLOAD_LIMIT) : bytes).toString('base64'),
      size: bytes.length,
      truncated: cut,
    };
    if (env !== undefined) {
      const { payload: _p, error: _e, ...meta } = env;
      letter.envelope = meta;
      letter.format = env.format;
    }
    this.count++;
    this.log.warn(
      { deadLetter: { type, subject, code: reason.code, messageId: env?.id, correlationId: env?.correlationId, from: env?.from } },
      `dead letter: ${reason.code}`,
    );
    try {
      this.transport.publish(this.subjects.dead(type), encoder.encode(JSON.stringify(letter)), { headers: this.transport.jsonHeaders });
    } catch (err) {
      this.log.error({ err, type }, 'could not publish a dead letter (it is in this log record)');
    }
  }
}
