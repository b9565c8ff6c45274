// The kernel's side of the worker pool: a piscina pool running worker/entry.js, plus the
// per-worker channel each worker opens at start (asks from handlers, aborts to them), and the
// limits on each worker: heap (resourceLimits) and memory outside the heap (MemoryWatchdog).

import { availableParallelism } from 'node:os';
import type { MessagePort, ResourceLimits } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { AosError, WireError } from './errors/aos-error.js';
import { MemoryWatchdog } from './memory-watchdog.js';
import { DEFAULT_MAX_WORKER_EXTERNAL_BYTES } from './system-options.js';
import { progressThread, type ActorResult, type BatchResult, type BatchTask, type KernelToWorker, type WorkerConfig, type WorkerToKernel } from './wire.js';

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

export type AskFromWorker = Extract<WorkerToKernel, { t: 'ask' }>;
export type CallFromWorker = Extract<WorkerToKernel, { t: 'call' }>;
export type ReportFromWorker = Extract<WorkerToKernel, { t: 'report' }>;
export type ApprovalFromWorker = Extract<WorkerToKernel, { t: 'approval' }>;
type PolicyMessage = Extract<KernelToWorker, { t: 'policy' }>;
export type AskAnswer = { ok: true; format: 'json' | 'msgpack'; payload: Uint8Array } | { ok: false; error: WireError };

export interface PoolOptions {
  threads?: number;
  /** Turns a worker may run at once (async handlers waiting on I/O interleave). */
  concurrentTasksPerWorker?: number;
  resourceLimits?: ResourceLimits;
  /** Memory outside the V8 heap one worker may hold before it is terminated (0: no limit). */
  maxWorkerExternalBytes?: number;
  config: Omit<WorkerConfig, 'maxExternalBytes'>;
  log: Logger;
  onAsk: (ask: AskFromWorker) => Promise<AskAnswer>;
  /** A tool call from a handler (the kernel checks, validates and runs it). */
  onCall: (call: CallFromWorker) => Promise<AskAnswer>;
  /** ctx.requestApproval from a handler (the kernel checks and stores it). */
  onApproval: (req: ApprovalFromWorker) => Promise<AskAnswer>;
  /** Units a handler reports spending. */
  onReport: (report: ReportFromWorker) => void;
  /** A cancelled actor's share of a batch ended (see wire.ts `cancelledIndex`). */
  onQuiet: (self: string) => void;
  /** One actor's results from a multi-actor batch, ahead of the batch. */
  onEarlyResult: (batchId: number, result: ActorResult) => void;
}

export class WorkerPool {
  private readonly piscina: Piscina;
  private readonly channels = new Set<MessagePort>();
  /** Every actor module spawned on this node: a new worker loads them before it takes work. */
  private readonly modules = new Set<string>();
  /** The policy in force, for workers that start from now on. */
  private policy: PolicyMessage | undefined;
  private readonly memory: MemoryWatchdog;
  readonly threads: number;

  constructor(private readonly opts: PoolOptions) {
    this.threads = opts.threads ?? Math.max(1, availableParallelism());
    this.memory = new MemoryWatchdog(opts.maxWorkerExternalBytes ?? DEFAULT_MAX_WORKER_EXTERNAL_BYTES, (threadId) => this.terminate(threadId), opts.log);
    const workerData: WorkerConfig = { ...opts.config, maxExternalBytes: this.memory.limit };
    this.piscina = new Piscina({
      filename: new URL('./worker/entry.js', import.meta.url).href,
      minThreads: this.threads,
      maxThreads: this.threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      // The dispatcher limits the batches that use CPU; piscina must never queue a batch behind
      // one that waits on an ask, or a chain of asks could wait for itself.
      concurrentTasksPerWorker: opts.concurrentTasksPerWorker ?? 64,
      // An idle worker waits with Atomics.waitAsync, so its event loop still runs: it hears
      // aborts and loads newly spawned modules while idle (about 15 us more per task than 'sync').
      atomics: 'async',
      workerData,
      // Workers get the node's environment without the cluster key: actor code can read its
      // environment, and with the key it could seal envelopes in any actor's name.
      env: workerEnv(),
      ...(opts.resourceLimits === undefined ? {} : { resourceLimits: opts.resourceLimits }),
    });
    this.piscina.on('message', (m: unknown) => this.onWorkerMessage(m));
    this.piscina.on('workerCreate', (w: { id: number }) => this.watchMemory(w.id));
    // piscina reports a worker that died with no task as an 'error' event; the task path reports the rest.
    this.piscina.on('error', (err: unknown) => opts.log.error({ err }, 'worker pool error'));
  }

  // No AbortSignal is passed to piscina: it runs an abortable task alone on its worker, which
  // would stop a turn from asking an actor whose batch lands on the same worker.
  // A batch whose worker was terminated for memory fails with ERR_MEMORY_LIMIT (see memory-watchdog.ts).
  run(task: BatchTask): Promise<BatchResult> {
    return (this.piscina.run(task) as Promise<BatchResult>).catch((cause: unknown) => {
      throw this.memory.failure(progressThread(task.progress), cause);
    });
  }

  /** Terminates one worker (a turn in it will not yield); piscina fails its tasks and starts a new one. */
  terminate(threadId: number): void {
    const worker = this.piscina.threads.find((w) => w.threadId === threadId);
    void worker?.terminate();
  }

  /** Remembers a module for the workers that start from now on. */
  remember(module: string): void {
    if (this.modules.has(module)) return;
    this.modules.add(module);
    const msg: KernelToWorker = { t: 'preload', modules: [module] };
    for (const port of this.channels) port.postMessage(msg);
  }

  /** Hands the policy in force to every worker (they check intents at the call site with it). */
  setPolicy(namespace: string, version: string, doc: unknown): void {
    this.policy = { t: 'policy', namespace, version, doc };
    for (const port of this.channels) port.postMessage(this.policy);
  }

  /** Aborts the in-flight turns of one actor, wherever they run. */
  abort(self: string, reason: AosError): void {
    const msg: KernelToWorker = { t: 'abort', self, reason: reason.toWire() };
    for (const port of this.channels) port.postMessage(msg);
  }

  async destroy(): Promise<void> {
    for (const port of this.channels) port.close();
    this.channels.clear();
    await this.piscina.destroy();
  }

  // Memory reports are heard on the Worker object itself, so the thread terminated is the one
  // that sent the report: a worker cannot name another (a threadId in the message is not trusted).
  private watchMemory(threadId: number): void {
    const worker = this.piscina.threads.find((w) => w.threadId === threadId);
    worker?.on('message', (m: unknown) => {
      const report = m as Partial<Extract<WorkerToKernel, { t: 'memory' }>> | null;
      if (report?.t === 'memory' && typeof report.externalBytes === 'number') this.memory.exceeded(threadId, report.externalBytes);
    });
  }

  private onWorkerMessage(m: unknown): void {
    const hello = m as { t?: string; aosChannel?: MessagePort };
    if (hello?.t !== 'hello' || hello.aosChannel === undefined) return;
    const port = hello.aosChannel;
    this.channels.add(port);
    const preload: KernelToWorker = { t: 'preload', modules: [...this.modules] };
    if (this.policy !== undefined) port.postMessage(this.policy);
    port.postMessage(preload);
    port.on('message', (msg: WorkerToKernel) => {
      if (msg.t === 'quiet') this.opts.onQuiet(msg.self);
      if (msg.t === 'result') this.opts.onEarlyResult(msg.batchId, msg.result);
      if (msg.t === 'report') this.opts.onReport(msg);
      if (msg.t !== 'ask' && msg.t !== 'call' && msg.t !== 'approval') return;
      // Worker code is untrusted: ids it hands the kernel must be the W3C hex the kernel makes.
      const wellFormed = TRACE_ID.test(msg.correlationId) && (msg.causationId === null || SPAN_ID.test(msg.causationId));
      const answered = wellFormed
        ? msg.t === 'ask'
          ? this.opts.onAsk(msg)
          : msg.t === 'call'
            ? this.opts.onCall(msg)
            : this.opts.onApproval(msg)
        : Promise.resolve<AskAnswer>({ ok: false, error: { code: 'ERR_BAD_REQUEST', message: 'malformed correlation or causation id from a worker' } });
      void answered.then((answer) => {
        const reply: KernelToWorker = answer.ok
          ? { t: 'askResult', reqId: msg.reqId, ok: true, format: answer.format, payload: answer.payload }
          : { t: 'askResult', reqId: msg.reqId, ok: false, error: answer.error };
        port.postMessage(reply);
      });
    });
    port.on('close', () => this.channels.delete(port));
    port.unref();
  }
}

/** The environment worker threads see: the node's, minus its secrets. */
function workerEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== 'AOS_CLUSTER_KEY') env[k] = v;
  return env;
}
