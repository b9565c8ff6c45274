// The worker's long-lived channel to the kernel: created once when the worker starts and
// handed to the kernel with the worker's threadId. Asks from handlers and aborts from the
// kernel travel here while a turn runs (piscina's own port carries only tasks).

import { MessageChannel, parentPort, threadId } from 'node:worker_threads';
import { fromWire, type AosError } from '../errors/aos-error.js';
import type { ActorResult, KernelToWorker, WorkerToKernel } from '../wire.js';
import type { PayloadFormat } from '../envelope.js';
import { PolicyView } from './turn-guard.js';

export interface AskReply {
  format: PayloadFormat;
  payload: Uint8Array;
}

type Pending = { resolve: (r: AskReply) => void; reject: (e: AosError) => void };

export class KernelChannel {
  private readonly port;
  private readonly pending = new Map<number, Pending>();
  private nextReq = 1;
  /** The turn each actor is running in this worker (one at a time per actor). */
  private readonly running = new Map<string, { abort(reason: AosError): void }>();

  /** Resolves with the modules to load before taking work (empty if the kernel does not answer soon). */
  readonly preload: Promise<string[]>;
  private gotPreload!: (modules: string[]) => void;
  private preloaded = false;
  /** The policy in force, as the kernel last announced it. */
  readonly policy = new PolicyView();
  /** Called with modules the kernel announces after start (spawned since), to load in the background. */
  onModules: (modules: string[]) => void = () => undefined;

  constructor() {
    this.preload = new Promise<string[]>((resolve) => {
      this.gotPreload = resolve;
      setTimeout(() => resolve([]), 2_000).unref();
    });
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    port1.on('message', (m: KernelToWorker) => this.onMessage(m));
    // Keep the worker alive only while something waits on the kernel.
    port1.unref();
    const hello: WorkerToKernel = { t: 'hello', threadId };
    parentPort?.postMessage({ aosChannel: port2, ...hello }, [port2]);
  }

  ask(msg: Omit<Extract<WorkerToKernel, { t: 'ask' }>, 't' | 'reqId'>): Promise<AskReply> {
    return this.request((reqId) => ({ t: 'ask', reqId, ...msg }));
  }

  call(msg: Omit<Extract<WorkerToKernel, { t: 'call' }>, 't' | 'reqId'>): Promise<AskReply> {
    return this.request((reqId) => ({ t: 'call', reqId, ...msg }));
  }

  approval(msg: Omit<Extract<WorkerToKernel, { t: 'approval' }>, 't' | 'reqId'>): Promise<AskReply> {
    return this.request((reqId) => ({ t: 'approval', reqId, ...msg }));
  }

  report(self: string, unit: string, amount: number): void {
    const msg: WorkerToKernel = { t: 'report', self, unit, amount };
    this.port.postMessage(msg);
  }

  private request(make: (reqId: number) => WorkerToKernel): Promise<AskReply> {
    const reqId = this.nextReq++;
    return new Promise<AskReply>((resolve, reject) => {
      this.pending.set(reqId, { resolve, reject });
      if (this.pending.size === 1) this.port.ref();
      this.port.postMessage(make(reqId));
    });
  }

  /** Hands one actor's results to the kernel before the rest of its batch ends. */
  result(batchId: number, result: ActorResult): void {
    const msg: WorkerToKernel = { t: 'result', batchId, result };
    this.port.postMessage(msg);
  }

  /** Tells the kernel a cancelled actor runs nothing more in this worker. */
  quiet(self: string): void {
    const msg: WorkerToKernel = { t: 'quiet', self };
    this.port.postMessage(msg);
  }

  /** Registers the turn an actor runs now, so an abort from the kernel reaches it. */
  enter(self: string, turn: { abort(reason: AosError): void }): void {
    this.running.set(self, turn);
  }

  leave(self: string): void {
    this.running.delete(self);
  }

  private onMessage(m: KernelToWorker): void {
    if (m.t === 'preload') {
      if (this.preloaded) this.onModules(m.modules);
      this.preloaded = true;
      this.gotPreload(m.modules);
      return;
    }
    if (m.t === 'policy') {
      this.policy.set(m.namespace, m.doc);
      return;
    }
    if (m.t === 'abort') {
      this.running.get(m.self)?.abort(fromWire(m.reason));
      return;
    }
    const p = this.pending.get(m.reqId);
    if (p === undefined) return;
    this.pending.delete(m.reqId);
    if (this.pending.size === 0) this.port.unref();
    if (m.ok) p.resolve({ format: m.format, payload: m.payload });
    else p.reject(fromWire(m.error));
  }
}
