// The trace streams open on a node (stream-log.ts), and the in-kernel tools its tracer reaches
// them with (a worker holds no NATS connection): `trace.append` and `trace.query`; and the
// anchors stream (trace-anchors.ts), with `trace.anchor`.

import type { NatsConnection } from 'nats';
import type { z } from 'zod';
import { aosError } from '../errors/aos-error.js';
import type { ToolRegistration, ToolSpec } from '../tools/tool-registry.js';
import { StreamLog } from './stream-log.js';
import { answerStreamQuery } from './stream-query.js';
import type { TraceAnswer } from './trace-query.js';
import { anchorArgs, openAnchorStream, publishAnchor } from './trace-anchors.js';
import { appendArgs, queryArgs, TRACE_ANCHOR_TOOL, TRACE_APPEND_TOOL, TRACE_QUERY_TOOL, type AppendResult } from './tracer-tools.js';

/** The trace streams open on a node, and the tools its tracer reaches them with. */
export class TraceStreams {
  private readonly logs = new Map<string, StreamLog>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly namespace: string,
    private readonly register: (name: string, spec: ToolRegistration) => void,
  ) {}

  /** Opens a stream (creating it if missing) for this node's tracer; the tools are registered with the first. */
  async open(stream: string): Promise<void> {
    if (this.logs.has(stream)) return;
    const log = await StreamLog.open(this.nc, this.namespace, stream);
    if (this.logs.size === 0) {
      const append: ToolSpec<z.infer<typeof appendArgs>, AppendResult> = {
        input: appendArgs,
        description: 'appends a trace batch to a trace stream (the tracer)',
        run: (args, ctx) => this.log(args.stream).append(args.bytes, ctx.actor.id),
      };
      const query: ToolSpec<z.infer<typeof queryArgs>, TraceAnswer> = {
        input: queryArgs,
        description: 'answers a trace query over a trace stream (the tracer)',
        run: (args) => {
          this.log(args.stream); // open on this node
          return answerStreamQuery(this.nc, args.stream, args.query);
        },
      };
      this.register(TRACE_APPEND_TOOL, append as ToolRegistration);
      this.register(TRACE_QUERY_TOOL, query as ToolRegistration);
    }
    this.logs.set(stream, log);
  }

  /** Opens the namespace's anchors stream (creating it if missing) and registers `trace.anchor`; the stream's name. */
  async openAnchors(node: string, now: () => number): Promise<string> {
    if (this.anchors !== undefined) return this.anchors;
    const name = await openAnchorStream(this.nc, this.namespace);
    const anchor: ToolSpec<z.infer<typeof anchorArgs>, { seq: number }> = {
      input: anchorArgs,
      description: "anchors a trace log's head in the trace anchors stream (the tracer)",
      run: async (args, ctx) => ({ seq: await publishAnchor(this.nc, this.namespace, { ...args, node, tracer: ctx.actor.id, at: now() }) }),
    };
    this.register(TRACE_ANCHOR_TOOL, anchor as ToolRegistration);
    this.anchors = name;
    return name;
  }

  private anchors: string | undefined;

  private log(stream: string): StreamLog {
    const log = this.logs.get(stream);
    if (log === undefined) throw aosError('ERR_TRACE_LOG', `the trace stream ${stream} is not open on this node`, { stream });
    return log;
  }
}
