// What a handler asks of the kernel while its turn runs, and where the kernel answers: asks
// and tool calls, decided by the broker when they are made (the handler learns of a denial at
// once), and the one check every reply subject passes before the kernel answers on it.

import type { Logger } from 'pino';
import type { ActorCell, Delivery } from './actor-cell.js';
import { parseAgentId } from './address.js';
import { deniedError, type Broker } from './broker/broker.js';
import type { Dispatcher } from './dispatcher.js';
import { decodeValue } from './envelope.js';
import { aosError, toAosError } from './errors/aos-error.js';
import type { Origin, Outbox } from './outbox.js';
import type { AskAnswer, AskFromWorker, CallFromWorker } from './pool.js';
import type { Subjects } from './subjects.js';
import type { OtelSpans } from './trace/otel.js';
import type { ToolRegistry } from './tools/tool-registry.js';

export interface WorkerRequestDeps {
  cells: Map<string, ActorCell>;
  broker: Broker;
  subjects: Subjects;
  dispatcher: Dispatcher;
  tools: ToolRegistry;
  log: Logger;
  outbox: Outbox;
  /** A value as msgpack bytes within the node's message limit (throws ERR_ENCODE / ERR_PAYLOAD_TOO_LARGE). */
  encode: (value: unknown) => Uint8Array;
  /** OpenTelemetry spans for tool calls, when a tracer provider is registered. */
  otel?: OtelSpans | undefined;
}

function notRunning(self: string): AskAnswer {
  return { ok: false, error: aosError('ERR_ACTOR_STOPPED', `actor ${self} is not running`, { actorId: self }).toWire() };
}

export class WorkerRequests {
  constructor(private readonly deps: WorkerRequestDeps) {}

  /** An ask from a handler. */
  async ask(ask: AskFromWorker): Promise<AskAnswer> {
    const { cells, broker, subjects, dispatcher } = this.deps;
    const cell = cells.get(ask.self);
    if (cell === undefined) return notRunning(ask.self);
    let subject: string;
    try {
      subject = subjects.actor(parseAgentId(ask.to));
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    }
    const d = broker.decide({ id: cell.id, type: cell.addr.type }, 'ask', subject, { ...(ask.causationId === null ? {} : { messageId: ask.causationId }), correlationId: ask.correlationId });
    if (!d.allow) return { ok: false, error: deniedError(cell.id, 'ask', subject, d).toWire() };
    dispatcher.waitingOnAsk(1);
    try {
      const origin: Origin = { from: ask.self, correlationId: ask.correlationId, causationId: ask.causationId };
      const reply = await this.deps.outbox.ask(origin, ask.to, { format: 'msgpack', payload: ask.payload }, ask.timeoutMs);
      return { ok: true, format: reply.format, payload: reply.payload };
    } catch (err) {
      return { ok: false, error: toAosError(err).toWire() };
    } finally {
      dispatcher.waitingOnAsk(-1);
    }
  }

  /** A tool call from a handler: decided by the broker, then validated and run here, in the kernel. */
  async call(call: CallFromWorker): Promise<AskAnswer> {
    const { cells, broker, dispatcher, tools } = this.deps;
    const cell = cells.get(call.self);
    if (cell === undefined) return notRunning(call.self);
    const actor = { id: cell.id, type: cell.addr.type };
    const d = broker.decide(actor, 'call', call.tool, { ...(call.causationId === null ? {} : { messageId: call.causationId }), correlationId: call.correlationId });
    if (!d.allow) return { ok: false, error: deniedError(cell.id, 'call', call.tool, d).toWire() };
    dispatcher.waitingOnAsk(1);
    const otel = this.deps.otel;
    const startedAt = otel?.now() ?? 0;
    let outcome = 'ok';
    try {
      const result = await tools.call({
        actor: { id: cell.id, role: d.role, owner: d.owner },
        tool: call.tool,
        args: decodeValue(call.args, 'msgpack'),
        timeoutMs: call.timeoutMs,
        correlationId: call.correlationId,
        report: (unit, amount) => broker.report(actor, unit, amount),
      });
      return { ok: true, format: 'msgpack', payload: this.deps.encode(result) };
    } catch (err) {
      const error = toAosError(err, 'ERR_TOOL_FAILED', { tool: call.tool });
      outcome = error.code;
      return { ok: false, error: error.toWire() };
    } finally {
      dispatcher.waitingOnAsk(-1);
      otel?.toolCall(cell.id, call.tool, call.correlationId, call.causationId, startedAt, otel.now(), outcome);
    }
  }

  /** No request may aim the kernel's replies at runtime or system subjects (a confused-deputy attack; a
   *  captured envelope replayed with another reply subject too: the reply subject is not sealed). */
  replyAllowed(d: Delivery, from: string): boolean {
    if (d.replyTo === undefined) return true;
    const to = d.replyTo;
    if (!to.startsWith('$') && !to.startsWith(`${this.deps.subjects.prefix}.`)) return true;
    this.deps.broker.recordDenial(from, 'reply', to, 'reply', 'builtin:reply-subject', { messageId: d.env.id, correlationId: d.env.correlationId }, { requester: d.env.from });
    this.deps.log.warn({ actor: from, replyTo: to, messageId: d.env.id }, 'reply refused: the reply subject is a runtime or system subject');
    return false;
  }
}
