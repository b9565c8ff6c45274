import { describe, expect, test } from 'vitest';
import { decodeTraceBatch, TraceEmitter, type Envelope } from 'autonomy-os/internal';

function capture(): { batches: Uint8Array[]; emitter: TraceEmitter } {
  const batches: Uint8Array[] = [];
  const emitter = new TraceEmitter('n1', () => 1_000, { send: (bytes) => batches.push(bytes) }, 512 * 1024);
  return { batches, emitter };
}

const env = (over: Partial<Envelope> = {}): Envelope => ({
  kind: 'ask',
  id: '0123456789abcdef',
  from: 'a/1',
  to: 'b/1',
  correlationId: '0123456789abcdef0123456789abcdef',
  causationId: null,
  sentAt: 1,
  attempt: 0,
  format: 'msgpack',
  payload: new Uint8Array(7),
  ...over,
});

describe('trace emitter', () => {
  test('trace emitter - a batch decodes to full records, with the traceparent derived from the ids', () => {
    const { batches, emitter } = capture();
    emitter.envelope('sent', 'a/1', env(), 'aos.actor.b.1');
    emitter.other({ type: 'decision', at: 1_000, node: 'n1', actor: 'a/1', allow: true });
    emitter.seal();
    expect(batches).toHaveLength(1);
    const { node, records } = decodeTraceBatch(batches[0]!);
    expect(node).toBe('n1');
    expect(records).toContainEqual(expect.objectContaining({ type: 'envelope', event: 'sent', actor: 'a/1', id: '0123456789abcdef', size: 7, traceparent: '00-0123456789abcdef0123456789abcdef-0123456789abcdef-01' }));
    expect(records).toContainEqual(expect.objectContaining({ type: 'decision', actor: 'a/1' }));
  });

  test('trace emitter - ids a client forged (quotes, backslashes) cannot break the batch: they come back intact', () => {
    const { batches, emitter } = capture();
    const forged = env({ id: 'x","evil":"1', correlationId: 'c\\"d', causationId: '"' });
    emitter.envelope('dead-lettered', 'b/1', forged, 'aos.actor.b.1', 'ERR_DENIED');
    emitter.envelope('replied', 'b/1', forged, 'aos.actor.b.1', 'ERR_DENIED');
    emitter.seal();
    const { records } = decodeTraceBatch(batches[0]!);
    expect(records.map((r) => (r as { id: string }).id)).toEqual(['x","evil":"1', 'x","evil":"1']);
    expect((records[0] as { correlationId: string }).correlationId).toBe('c\\"d');
    expect((records[0] as { causationId: string }).causationId).toBe('"');
  });
});
