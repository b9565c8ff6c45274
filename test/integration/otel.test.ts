// OpenTelemetry export (issue 5, item 6): with a tracer provider registered before the node starts,
// every handled message is a `process <subject>` CONSUMER span whose parent is the span of its send
// (so a client's traceparent and every NATS hop form one trace), and every tool call an
// `execute_tool <tool>` span; with no provider the runtime makes no span and runs as before.

import { afterEach, describe, expect, test } from 'vitest';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { hdrs, json, rawClient } from '../helpers/nats.js';
import { fixture, startSystem } from '../helpers/system.js';
import { governed, policy } from '../fixtures/broker/setup.js';

interface RelayReply {
  via: string;
  messageId: string;
  correlationId: string;
  got: { messageId: string; causationId: string; correlationId: string };
}

/** Registers an in-memory exporter as the global provider; unregistered after the test (test files share the process). */
function exportSpans(): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
  return exporter;
}

afterEach(() => {
  trace.disable();
});

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

function ofTrace(exporter: InMemorySpanExporter, traceId: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
}

describe('OpenTelemetry spans', () => {
  test('otel - a client traceparent and each NATS hop form one trace of process spans, parented by the send', async () => {
    const exporter = exportSpans();
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'r', tasks: ['relay'] });
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'e' });
    const nc = await rawClient();
    const msg = await nc.request(`${ns}.task.relay`, json({ op: 'ask', to: 'echo/e', value: { text: 'hi' } }), {
      timeout: 10_000,
      headers: hdrs({ traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` }),
    });
    const reply = msg.json<RelayReply>();
    expect(reply.correlationId).toBe(TRACE_ID);

    const spans = ofTrace(exporter, TRACE_ID);
    expect(spans.map((s) => s.name).sort()).toEqual([`process ${ns}.actor.echo.e`, `process ${ns}.task.relay`]);
    const relay = spans.find((s) => s.name === `process ${ns}.task.relay`)!;
    const echo = spans.find((s) => s.name === `process ${ns}.actor.echo.e`)!;

    // the relay's message came from the client: its parent is the client's span
    expect(relay.kind).toBe(SpanKind.CONSUMER);
    expect(relay.parentSpanContext?.spanId).toBe(CLIENT_SPAN);
    expect(relay.parentSpanContext?.isRemote).toBe(true);
    expect(relay.attributes).toMatchObject({
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': `${ns}.task.relay`,
      'messaging.message.id': reply.messageId,
      'messaging.message.conversation_id': TRACE_ID,
      'gen_ai.agent.id': 'relay/r',
      'gen_ai.agent.name': 'relay',
      'aos.node': system.nodeId,
      'aos.from': 'external',
    });
    expect(relay.attributes['messaging.message.body.size']).toBeGreaterThan(0);
    expect(relay.status.code).not.toBe(SpanStatusCode.ERROR);

    // the echo's message is the ask the relay sent while handling it: its parent is that send (the envelope id),
    // an envelope caused by the relay's message
    expect(echo.parentSpanContext?.spanId).toBe(reply.got.messageId);
    expect(reply.got.causationId).toBe(reply.messageId);
    expect(echo.attributes).toMatchObject({
      'messaging.destination.name': `${ns}.actor.echo.e`,
      'messaging.message.id': reply.got.messageId,
      'messaging.message.conversation_id': TRACE_ID,
      'gen_ai.agent.id': 'echo/e',
      'gen_ai.agent.name': 'echo',
      'aos.from': 'relay/r',
    });
    // the inner turn lies within the outer one
    const ms = (t: [number, number]) => t[0] * 1e3 + t[1] / 1e6;
    expect(ms(echo.startTime)).toBeGreaterThanOrEqual(ms(relay.startTime));
    expect(ms(echo.endTime)).toBeLessThanOrEqual(ms(relay.endTime));
  });

  test('otel - a failed turn is a span with status ERROR and the error code', async () => {
    const exporter = exportSpans();
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'e', tasks: ['echo'] });
    const nc = await rawClient();
    const traceId = 'aaaabbbbccccddddeeeeffff00001111';
    await nc.request(`${ns}.task.echo`, json({ wrong: true }), { timeout: 10_000, headers: hdrs({ traceparent: `00-${traceId}-${CLIENT_SPAN}-01` }) });
    const [span] = ofTrace(exporter, traceId);
    expect(span?.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'ERR_INPUT_SCHEMA' });
    expect(span?.attributes['error.type']).toBe('ERR_INPUT_SCHEMA');
  });

  test('otel - a tool call is an execute_tool span in the calling turn trace', async () => {
    const exporter = exportSpans();
    const g = await governed(() => policy({ seller: { tools: { allow: ['pricing.quote'] } } }, { seller: { role: 'seller' } }));
    g.system.registerTool('pricing.quote', { input: z.object({ sku: z.string() }), run: ({ sku }) => ({ sku, total: 3 }) });
    await g.agent('seller', 'a');
    expect(await g.act('seller/a', { op: 'call', tool: 'pricing.quote', args: { sku: 'x1' } })).toMatchObject({ ok: true });
    expect(await g.act('seller/a', { op: 'call', tool: 'pricing.quote', args: { nope: 1 } })).toMatchObject({ ok: false, error: { code: 'ERR_TOOL_INPUT' } });

    const tools = exporter.getFinishedSpans().filter((s) => s.name === 'execute_tool pricing.quote');
    expect(tools).toHaveLength(2);
    const [ok, bad] = tools;
    expect(ok!.attributes).toMatchObject({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'pricing.quote', 'gen_ai.agent.id': 'seller/a', 'gen_ai.agent.name': 'seller', 'aos.node': g.system.nodeId });
    expect(ok!.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(bad!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'ERR_TOOL_INPUT' });
    // each call is in the trace of the message whose turn made it, parented by that message's send
    for (const tool of tools) {
      const turn = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.CONSUMER && s.spanContext().traceId === tool.spanContext().traceId);
      expect(turn?.attributes['gen_ai.agent.id']).toBe('seller/a');
      expect(tool.parentSpanContext?.spanId).toBe(turn?.attributes['messaging.message.id']);
      expect(tool.parentSpanContext?.spanId).toBe(turn?.parentSpanContext?.spanId);
    }
  });

  test('otel - with no provider registered at start the node makes no spans and runs as before', async () => {
    const system = await startSystem();
    const ns = system.subjects.prefix;
    await system.spawn(fixture('relay.ts'), { type: 'relay', key: 'r', tasks: ['relay'] });
    await system.spawn(fixture('echo.ts'), { type: 'echo', key: 'e' });
    // registered after the node started: the node decided at start that OpenTelemetry is off
    const exporter = exportSpans();
    const nc = await rawClient();
    const msg = await nc.request(`${ns}.task.relay`, json({ op: 'ask', to: 'echo/e', value: { text: 'hi' } }), {
      timeout: 10_000,
      headers: hdrs({ traceparent: `00-${TRACE_ID}-${CLIENT_SPAN}-01` }),
    });
    expect(msg.json<RelayReply>()).toMatchObject({ via: 'relay/r', got: { correlationId: TRACE_ID } });
    await system.whenIdle();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
