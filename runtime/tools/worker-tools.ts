// The kernel's side of the tool pool: a piscina pool running tools/tool-worker.js, apart from
// the actors' pool, so a connector's code and memory stay out of the kernel. Each call gets a
// MessageChannel: reports come back on it, an abort goes out on it (the tool's signal).

import { availableParallelism } from 'node:os';
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { decodeValue, encodeValue } from '../envelope.js';
import { fromWire, toAosError } from '../errors/aos-error.js';
import type { ToolContext } from './tool-registry.js';
import type { ToolTask, ToolTaskResult } from './tool-wire.js';

export class WorkerTools {
  private readonly piscina: Piscina;

  constructor(threads: number) {
    const n = Math.max(1, Math.min(threads, availableParallelism()));
    this.piscina = new Piscina({
      filename: new URL('./tool-worker.js', import.meta.url).href,
      minThreads: n,
      maxThreads: n,
      // Tools wait on I/O (HTTP, databases): many calls share a worker.
      concurrentTasksPerWorker: 32,
      idleTimeout: Number.POSITIVE_INFINITY,
    });
  }

  async run(module: string, tool: string, args: unknown, ctx: ToolContext): Promise<unknown> {
    const { port1, port2 } = new MessageChannel();
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    port1.on('message', (m: { t?: string; unit?: unknown; amount?: unknown }) => {
      if (m?.t === 'end') ended();
      if (m?.t === 'report' && typeof m.unit === 'string' && typeof m.amount === 'number' && Number.isFinite(m.amount) && m.amount >= 0) ctx.report(m.unit, m.amount);
    });
    const onAbort = () => port1.postMessage({ t: 'abort', reason: toAosError(ctx.signal.reason).toWire() });
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const task: ToolTask = { module, tool, args: encodeValue(args, 'msgpack'), actor: ctx.actor, correlationId: ctx.correlationId, traceparent: ctx.traceparent, port: port2 };
      const r = (await this.piscina.run(task, { transferList: [port2] })) as ToolTaskResult;
      await end; // the result and the reports travel on different ports: take every report first
      if (!r.ok) throw fromWire(r.error);
      return decodeValue(r.result, 'msgpack');
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      port1.close();
    }
  }

  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }
}
