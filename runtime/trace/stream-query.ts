// The queries of log-query.ts over a trace stream, a message at a time: `show` and `stats` through
// an ordered consumer, `tail` from the last message back, one read each, until it has its records.
// So a query over a long stream holds its answer, not the stream (the `trace.query` tool runs in
// the kernel: a whole stream decoded there would hold up the node).

import type { NatsConnection } from 'nats';
import { ChainCollector, StatsCollector, TailCollector, tailFilters } from './log-query.js';
import { forEachEntry, forEachEntryBackward } from './stream-log.js';
import type { TraceAnswer, TraceQuery } from './trace-query.js';

export async function answerStreamQuery(nc: NatsConnection, stream: string, query: TraceQuery): Promise<TraceAnswer> {
  switch (query.kind) {
    case 'show': {
      const c = new ChainCollector(query.correlationId);
      await forEachEntry(nc, stream, (e) => c.add(e.text));
      return { kind: 'show', correlationId: query.correlationId, records: c.result() };
    }
    case 'tail': {
      const c = new TailCollector(tailFilters(query));
      await forEachEntryBackward(nc, stream, (text) => c.add(text));
      return { kind: 'tail', records: c.result() };
    }
    case 'stats': {
      const c = new StatsCollector();
      await forEachEntry(nc, stream, (e) => c.add(e.text));
      return { kind: 'stats', actors: c.result() };
    }
  }
}
