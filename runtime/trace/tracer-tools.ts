// The in-kernel tools through which a tracer reaches JetStream (a worker holds no NATS
// connection): `trace.append` appends a batch to a trace stream, `trace.query` answers a query
// over one, and `trace.anchor` anchors a file log's head (trace-anchors.ts). Names and arguments
// only: trace-streams.ts runs them, in the kernel. A tracer's role is granted them by name (the
// development default and the demo policy do).

import { z } from 'zod';
import { traceQuerySchema } from './trace-query.js';

export const TRACE_APPEND_TOOL = 'trace.append';
export const TRACE_QUERY_TOOL = 'trace.query';
export const TRACE_ANCHOR_TOOL = 'trace.anchor';

/** A stream name JetStream accepts, and a NATS token: no dots, wildcards, spaces or path characters. */
export const STREAM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const appendArgs = z.object({ stream: z.string().regex(STREAM_NAME), bytes: z.instanceof(Uint8Array) });
export const queryArgs = z.object({ stream: z.string().regex(STREAM_NAME), query: traceQuerySchema });

export interface AppendResult {
  /** The stream sequence of the batch's entry (0 for a batch this node knew the stream held, past JetStream's duplicate window). */
  seq: number;
  /** The stream had it already (JetStream's Nats-Msg-Id, `<node>:<batch>`). */
  duplicate: boolean;
}
