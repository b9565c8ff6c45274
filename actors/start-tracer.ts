// Starts the tracer on a node, supervised like any other actor: one_for_one, permanent, so a
// tracer that fails is restarted and the kernel re-sends what it had not acknowledged.

import type { ActorSystem, SupervisorHandle } from '../index.js';
import { defineSupervisor } from '../supervisors/define-supervisor.js';
import { TRACER_MODULE, TRACER_TYPE } from './index.js';

export interface TracerOptions {
  /** The hash-chained log file (created, or continued when it exists and verifies). */
  file: string;
}

export function startTracer(system: ActorSystem, options: TracerOptions): Promise<SupervisorHandle> {
  const ns = system.subjects.prefix;
  return system.supervise(
    defineSupervisor({
      name: 'trace',
      strategy: 'one_for_one',
      children: [{ module: TRACER_MODULE, type: TRACER_TYPE, key: system.nodeId, subscribe: [`${ns}.trace.>`], config: { file: options.file } }],
    }),
  );
}
