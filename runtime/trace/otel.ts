// Optional OpenTelemetry spans: one CONSUMER span per handled message and one span per tool call,
// after the OTel messaging and GenAI agent conventions, through `@opentelemetry/api` when the user
// has installed it and registered a tracer provider before the node started; otherwise nothing at all.
// A span's parent is the envelope's own trace context (trace id = correlationId, span = the send).

import type { Delivery } from '../actor-cell.js';

/** The part of `@opentelemetry/api` used here, structurally, so the runtime's types do not need the package. */
interface SpanLike {
  setAttribute(key: string, value: string): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(endTime?: number): void;
}
type Attributes = Record<string, string | number>;
interface OtelApi {
  startSpan(name: string, kind: 'consumer' | 'internal', startTime: number, attributes: Attributes, traceId: string, parentSpanId: string): SpanLike;
  readonly error: number;
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;
const ZEROS = /^0+$/;

function validIds(traceId: string, spanId: string): boolean {
  return HEX32.test(traceId) && HEX16.test(spanId) && !ZEROS.test(traceId) && !ZEROS.test(spanId);
}

/** The actor type of an AgentId (`type/key`). */
function typeOf(actor: string): string {
  const slash = actor.indexOf('/');
  return slash < 0 ? actor : actor.slice(0, slash);
}

export class OtelSpans {
  private constructor(
    private readonly api: OtelApi,
    private readonly nodeId: string,
    /** The node's clock (ms since the epoch), for timing tool calls. */
    readonly now: () => number,
  ) {}

  /**
   * Spans for this node, or undefined (OTel off, nothing on the hot path) when `@opentelemetry/api`
   * is not installed or no tracer provider is registered: a provider registered later is not seen.
   */
  static async load(nodeId: string, now: () => number): Promise<OtelSpans | undefined> {
    let api: typeof import('@opentelemetry/api');
    try {
      api = await import('@opentelemetry/api');
    } catch {
      return undefined;
    }
    const provider = api.trace.getTracerProvider();
    // With no provider registered, the API's own proxy has no delegate: every span would be a no-op.
    if (provider instanceof api.ProxyTracerProvider && provider.getDelegateTracer('autonomy-os') === undefined) return undefined;
    const tracer = api.trace.getTracer('autonomy-os');
    const kinds = { consumer: api.SpanKind.CONSUMER, internal: api.SpanKind.INTERNAL };
    return new OtelSpans(
      {
        error: api.SpanStatusCode.ERROR,
        startSpan: (name, kind, startTime, attributes, traceId, parentSpanId) => {
          const parent = api.trace.setSpanContext(api.context.active(), { traceId, spanId: parentSpanId, traceFlags: api.TraceFlags.SAMPLED, isRemote: true });
          return tracer.startSpan(name, { kind: kinds[kind], startTime, attributes }, parent);
        },
      },
      nodeId,
      now,
    );
  }

  /**
   * One message handled at `actor`: `process <subject>` from its arrival to the end of its turn. Its
   * parent is the span of the send: the envelope's id, or for an outside client's message the span
   * its `traceparent` named (the envelope's causationId).
   */
  handled(actor: string, d: Delivery, outcome: string, startedAt: number | undefined, ms: number | undefined): void {
    const env = d.env;
    const parentSpanId = env.from.startsWith('external') && env.causationId !== null ? env.causationId : env.id;
    if (!validIds(env.correlationId, parentSpanId)) return;
    const start = d.receivedAt ?? startedAt ?? this.now();
    const end = startedAt === undefined || ms === undefined ? start : startedAt + ms;
    const span = this.api.startSpan(
      `process ${d.subject}`,
      'consumer',
      start,
      {
        'messaging.system': 'nats',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': d.subject,
        'messaging.message.id': env.id,
        'messaging.message.conversation_id': env.correlationId,
        'messaging.message.body.size': env.payload.length,
        'gen_ai.agent.id': actor,
        'gen_ai.agent.name': typeOf(actor),
        'aos.node': this.nodeId,
        'aos.from': env.from,
        'aos.kind': env.kind,
      },
      env.correlationId,
      parentSpanId,
    );
    this.finish(span, outcome, end);
  }

  /** One tool call made during a turn: `execute_tool <tool>`, a child of the send of the message that turn handles. */
  toolCall(actor: string, tool: string, correlationId: string, parentMessageId: string | null, startMs: number, endMs: number, outcome: string): void {
    if (parentMessageId === null || !validIds(correlationId, parentMessageId)) return;
    const span = this.api.startSpan(
      `execute_tool ${tool}`,
      'internal',
      startMs,
      {
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': tool,
        'gen_ai.agent.id': actor,
        'gen_ai.agent.name': typeOf(actor),
        'aos.node': this.nodeId,
      },
      correlationId,
      parentMessageId,
    );
    this.finish(span, outcome, endMs);
  }

  private finish(span: SpanLike, outcome: string, end: number): void {
    if (outcome !== 'ok') {
      span.setAttribute('error.type', outcome);
      span.setStatus({ code: this.api.error, message: outcome });
    }
    span.end(end);
  }
}
