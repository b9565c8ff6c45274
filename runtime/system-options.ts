// The options of ActorSystem.start, validated with zod so a wrong value fails at start
// with ERR_CONFIG and the path of the bad field.

import type { ResourceLimits } from 'node:worker_threads';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Clock } from './clock.js';
import { tokenProblem } from './address.js';
import { aosError } from './errors/aos-error.js';

export const DEFAULT_MAX_MESSAGE_BYTES = 512 * 1024;
/** Long enough for a slow model call; short enough that a stuck turn is noticed. */
export const DEFAULT_TURN_TIMEOUT_MS = 120_000;
/** Memory outside the V8 heap (buffers) one worker may hold before it is terminated. */
export const DEFAULT_MAX_WORKER_EXTERNAL_BYTES = 512 * 1024 * 1024;
/** A smaller limit (but 0) would terminate workers for the memory a worker holds at rest. */
export const MIN_MAX_WORKER_EXTERNAL_BYTES = 16 * 1024 * 1024;

const token = z.string().superRefine((v, ctx) => {
  const problem = tokenProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} ${problem}` });
});

const schema = z.object({
  nats: z.string().min(1).optional(),
  namespace: token.optional(),
  nodeId: token.optional(),
  threads: z.number().int().min(1).max(256).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  /** Where the node's and its workers' logs go (default stdout). */
  logTo: z.enum(['stdout', 'stderr']).optional(),
  maxMessageBytes: z.number().int().min(1024).optional(),
  askTimeoutMs: z.number().int().positive().optional(),
  /** Default turn time limit in ms (0: none); an actor may set its own at spawn. */
  turnTimeoutMs: z.number().int().min(0).optional(),
  maxTurnsPerActor: z.number().int().min(1).max(10_000).optional(),
  /** Memory outside the V8 heap (ArrayBuffers, Buffers) a worker may hold, in bytes; over it the
   *  worker is terminated and its running turns fail with ERR_MEMORY_LIMIT (0: no limit). */
  maxWorkerExternalBytes: z
    .number()
    .int()
    .min(0)
    .refine((v) => v === 0 || v >= MIN_MAX_WORKER_EXTERNAL_BYTES, `must be 0 (no limit) or at least ${MIN_MAX_WORKER_EXTERNAL_BYTES} bytes`)
    .optional(),
  /** The policy this node starts with: a path to a JSON file, or the policy value itself. */
  policy: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).optional(),
  /** The secret that seals envelopes between the nodes of a namespace (default: AOS_CLUSTER_KEY, else one kept in JetStream KV). */
  clusterKey: z.string().min(16, 'clusterKey must be at least 16 characters').optional(),
  /** Trace records kept while no tracer acknowledges them (default 100,000); past it the oldest are dropped and counted. */
  traceBufferRecords: z.number().int().min(100).optional(),
  /**
   * Benchmarks only, to measure what the trace costs: `false` turns the kernel's trace off;
   * `'unpublished'` writes every record into its batch and discards the batch unsent (the kernel
   * thread's share on its own). Tracing is always on otherwise.
   */
  tracing: z.union([z.boolean(), z.literal('unpublished')]).optional(),
  mailbox: z
    .object({
      capacity: z.number().int().min(1).optional(),
      overflow: z.enum(['reject', 'drop-oldest']).optional(),
    })
    .optional(),
});

export type ActorSystemConfig = z.infer<typeof schema>;

export interface ActorSystemOptions extends ActorSystemConfig {
  /** A pino logger of your own (default: one built from logLevel). */
  logger?: Logger;
  /** The clock for timeouts (default: the system clock). Tests pass a ManualClock. */
  clock?: Clock;
  /** Limits for each worker thread (heap sizes, stack). */
  workerResourceLimits?: ResourceLimits;
}

export function validateOptions(opts: ActorSystemOptions): void {
  const { logger: _l, clock: _c, workerResourceLimits: _w, ...rest } = opts;
  const r = schema.safeParse(rest);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw aosError('ERR_CONFIG', `invalid option ${issue.path.join('.') || '(root)'}: ${issue.message}`, {
      issues: r.error.issues.map((i) => ({ path: i.path.map(String), message: i.message })),
    });
  }
}
