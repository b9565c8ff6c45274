// `aos start`: runs one node until SIGINT or SIGTERM. Flags override the config file; with
// no NATS URL the node starts an embedded nats-server. A policy file (--policy) is validated
// before anything starts, and offered to the namespace (a policy already stored there wins). When every listed actor is spawned
// it prints exactly one line on stdout, `aos: node <id> ready on <url>`, and on a signal it
// drains (system.shutdown) and exits 0. A second signal exits at once. With --ui it also serves
// the trace page (cli/trace-ui.ts) over the --trace log on 127.0.0.1, closed before the drain.

import { randomBytes } from 'node:crypto';
import { ActorSystem, loadPolicyFile, startTracer, type PolicyDoc } from '../index.js';
import type { StartFlags } from './args.js';
import { loadNodeConfig, type LoadedConfig } from './node-config.js';
import { policyLine, progress, stderrLogger } from './output.js';
import { serveTraceUi, type TraceUi } from './trace-ui.js';
import { anchorStream } from '../runtime/trace/trace-anchors.js';

interface StopSignal {
  /** Resolves with the first SIGINT/SIGTERM. */
  promise: Promise<NodeJS.Signals>;
  /** The signal received so far, if any. */
  received: NodeJS.Signals | undefined;
}

/** Listens for SIGINT/SIGTERM; a second signal ends the process at once with exit code 1. */
function listenForStop(): StopSignal {
  const stop: StopSignal = { promise: undefined!, received: undefined };
  stop.promise = new Promise((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      if (stop.received !== undefined) {
        progress(`${sig} again: exiting without a clean shutdown`);
        process.exit(1);
      }
      stop.received = sig;
      resolve(sig);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  return stop;
}

export async function runStart(flags: StartFlags): Promise<number> {
  // Listen before anything slow starts, so a signal during startup still ends in a clean shutdown.
  const stop = listenForStop();
  const cfg: LoadedConfig = flags.config === undefined ? { actors: [] } : loadNodeConfig(flags.config);
  const nats = flags.nats ?? cfg.nats;
  const namespace = flags.namespace ?? cfg.namespace;
  const threads = flags.threads ?? cfg.threads;
  // The node id is chosen here (not by the runtime) so the log records carry it from the first line.
  const nodeId = flags.nodeId ?? cfg.nodeId ?? `n${randomBytes(4).toString('hex')}`;
  // Checked first: a broken policy file (ERR_POLICY, every problem listed) starts nothing.
  const policyFile = flags.policy ?? cfg.policy;
  const policy: PolicyDoc | undefined = policyFile === undefined ? undefined : await loadPolicyFile(policyFile);

  progress(nats === undefined ? 'starting embedded nats-server…' : `connecting to ${nats}…`);
  const system = await ActorSystem.start({
    ...(nats === undefined ? {} : { nats }),
    ...(namespace === undefined ? {} : { namespace }),
    ...(threads === undefined ? {} : { threads }),
    ...(policy === undefined ? {} : { policy }),
    nodeId,
    logger: stderrLogger(flags.logLevel ?? 'info', nodeId),
    logTo: 'stderr',
  });
  progress(policyLine(system.governanceStatus.policy, policyFile, policy));
  let ui: TraceUi | undefined;
  try {
    if (flags.traceStream !== undefined) {
      await startTracer(system, { stream: flags.traceStream });
      progress(`tracer/${system.nodeId} appends the trace to the stream ${flags.traceStream}`);
    }
    if (flags.trace !== undefined) {
      await startTracer(system, {
        file: flags.trace,
        ...(flags.traceRotateMb === undefined ? {} : { rotateBytes: flags.traceRotateMb * 1_000_000 }),
        ...(flags.traceKeepSegments === undefined ? {} : { keepSegments: flags.traceKeepSegments }),
        ...(flags.traceKeepDays === undefined ? {} : { keepDays: flags.traceKeepDays }),
        ...(flags.traceAnchorS === undefined ? {} : { anchorEveryMs: flags.traceAnchorS * 1000 }),
      });
      const kept = [
        ...(flags.traceKeepSegments === undefined ? [] : [`the newest ${flags.traceKeepSegments} kept`]),
        ...(flags.traceKeepDays === undefined ? [] : [`deleted after ${flags.traceKeepDays} day${flags.traceKeepDays === 1 ? '' : 's'}`]),
      ];
      const keeps = kept.length === 0 ? '' : `, ${kept.join(', ')}`;
      const anchors = flags.traceAnchorS === undefined ? '' : `, its head anchored every ${flags.traceAnchorS} s in ${anchorStream(system.subjects.prefix)}`;
      progress(`tracer/${system.nodeId} appends the trace to ${flags.trace}${flags.traceRotateMb === undefined ? '' : ` (a new segment every ${flags.traceRotateMb} MB${keeps})`}${anchors}`);
      if (flags.ui === true) {
        ui = await serveTraceUi({ file: flags.trace, port: flags.uiPort ?? 0 });
        progress(`trace ui on ${ui.url}`);
      }
    }
    if (cfg.actors.length > 0) progress(`spawning ${cfg.actors.length} actor${cfg.actors.length === 1 ? '' : 's'}…`);
    // In the file's order, one at a time: a failure names the first actor that could not start.
    for (const a of cfg.actors) {
      if (stop.received !== undefined) break; // stopped while starting: spawn no more
      await system.spawn(a.module, { type: a.type, key: a.key, tasks: a.tasks });
    }
  } catch (err) {
    await ui?.close();
    await system.shutdown({ timeoutMs: 5_000 });
    throw err;
  }
  // Ready only if no signal came while starting: a node told to stop never claims to serve.
  if (stop.received === undefined) process.stdout.write(`aos: node ${system.nodeId} ready on ${system.natsUrl}\n`);

  const sig = await stop.promise;
  progress(`${sig}: draining and shutting down node ${system.nodeId}…`);
  await ui?.close();
  await system.shutdown();
  progress('stopped');
  return 0;
}
