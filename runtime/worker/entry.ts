// The piscina worker entry: untrusted actor code runs here and only here. It receives
// batches of turns, runs each actor's turns one at a time (different actors concurrently),
// and returns new states, replies and intents. It never holds a NATS connection.
// Main-thread code must never import this file (it is loaded by path by the pool).

import { parentPort, threadId, workerData } from 'node:worker_threads';
import { createLogger } from '../logger.js';
import { toAosError } from '../errors/aos-error.js';
import { cancelledIndex, type ActorResult, type ActorTurns, type BatchResult, type BatchTask, type WorkerConfig, type WorkerTask, type WorkerToKernel } from '../wire.js';
import { KernelChannel } from './kernel-channel.js';
import { loadActorModule } from './load-module.js';
import { watchExternalMemory } from './memory-watch.js';
import { runActor, type RunEnv } from './run-actor.js';

const config = workerData as WorkerConfig;
const env: RunEnv = {
  channel: new KernelChannel(),
  log: createLogger({ level: config.logLevel, nodeId: config.nodeId, to: config.logTo }),
  maxMessageBytes: config.maxMessageBytes,
};

// Top-level await: piscina marks this worker ready only after the actor modules of the node
// are loaded, so a worker that replaces a dead one takes work warm.
await Promise.all((await env.channel.preload).map((m) => loadActorModule(m).catch(() => undefined)));
// Modules spawned later are announced to every worker, which loads them while idle: the first
// turn of an actor on any worker (and its first turn after a worker died) does not pay for it.
env.channel.onModules = (modules) => {
  for (const m of modules) void loadActorModule(m).catch(() => undefined);
};
// Started once the worker is up (a worker piscina sees die while starting is never replaced).
// The report goes on parentPort: the kernel hears it on this Worker and terminates this one.
watchExternalMemory(config.maxExternalBytes, (externalBytes) => {
  const report: WorkerToKernel = { t: 'memory', threadId, externalBytes, limit: config.maxExternalBytes };
  parentPort?.postMessage(report);
});

async function runShare(a: ActorTurns, view: Int32Array): Promise<ActorResult> {
  try {
    const def = await loadActorModule(a.module);
    return await runActor(def, a, env, { view, slot: a.slot });
  } catch (err) {
    // A module that fails to load fails the whole share, as a handler failure would.
    const error = toAosError(err, 'ERR_ACTOR_MODULE', { actorId: a.self }).toWire(true);
    const outcome = { ok: false as const, error };
    return a.init ? { slot: a.slot, state: a.state, init: outcome, outcomes: [] } : { slot: a.slot, state: a.state, outcomes: [outcome] };
  }
}

async function runBatch(task: BatchTask): Promise<BatchResult> {
  const view = new Int32Array(task.progress);
  Atomics.store(view, 0, threadId); // so the kernel can terminate this worker if a turn never yields
  // Several actors: each one's results go to the kernel as soon as its share ends, so a quick
  // actor's replies never wait for a slow one (a model call) that shares its batch.
  const early = task.actors.length > 1;
  const actors = await Promise.all(
    task.actors.map(async (a): Promise<ActorResult> => {
      const result = await runShare(a, view);
      if (Atomics.load(view, cancelledIndex(a.slot)) !== 0) env.channel.quiet(a.self);
      if (early) env.channel.result(task.batchId, result);
      return result;
    }),
  );
  return { batchId: task.batchId, actors: early ? [] : actors };
}

// Errors are returned in the result, never thrown: a thrown error loses its code crossing the thread.
export default function handle(task: WorkerTask): Promise<BatchResult> {
  return runBatch(task);
}
