// Starts the tracer on a node, supervised like any other actor: one_for_one, permanent, so a
// tracer that fails is restarted and the kernel re-sends what it had not acknowledged. Its log is
// a file, or a JetStream stream that the tracers of several nodes share (opened here, on the node,
// first: the tracer reaches it through the node's tools).

import type { ActorSystem, SupervisorHandle } from '../index.js';
import { aosError } from '../runtime/errors/aos-error.js';
import { defineSupervisor } from '../supervisors/define-supervisor.js';
import { TRACER_MODULE, TRACER_TYPE } from './index.js';

/** Where the tracer keeps the log: exactly one of `file` and `stream`. */
export interface TracerOptions {
  /** The hash-chained log file (created, or continued when it exists and verifies). */
  file?: string;
  /** With `file`: past this size, the file becomes a segment (`<file>.<last seq>`) and a new file continues the chain. Default: never. */
  rotateBytes?: number;
  /** With `rotateBytes`: the newest segments kept; as each new one starts, older ones are deleted. Default: all kept. */
  keepSegments?: number;
  /** With `rotateBytes`: segments whose last entry is older than this many days are deleted (checked at start, at each new segment, and once a minute). Default: no limit of age. */
  keepDays?: number;
  /**
   * With `file`: the log's head (seq and hash of its last entry) is anchored at most this often
   * in the namespace's trace anchors stream (`<ns>-trace-anchors`, created if missing, refusing
   * deletes and purges), so `aos trace verify LOG --anchors` catches a rewritten chain. Needs
   * JetStream. Default: no anchors.
   */
  anchorEveryMs?: number;
  /** A JetStream stream (created with file storage if missing, or continued when it verifies), on subject `<ns>.tracelog.<stream>`. */
  stream?: string;
}

export async function startTracer(system: ActorSystem, options: TracerOptions): Promise<SupervisorHandle> {
  if ((options.file === undefined) === (options.stream === undefined)) throw aosError('ERR_CONFIG', 'startTracer needs exactly one of { file } and { stream }');
  if (options.rotateBytes !== undefined && (options.file === undefined || !Number.isSafeInteger(options.rotateBytes) || options.rotateBytes < 1)) {
    throw aosError('ERR_CONFIG', 'startTracer: rotateBytes is a positive integer, with { file }', { rotateBytes: options.rotateBytes });
  }
  if (options.keepSegments !== undefined && (options.rotateBytes === undefined || !Number.isSafeInteger(options.keepSegments) || options.keepSegments < 0)) {
    throw aosError('ERR_CONFIG', 'startTracer: keepSegments is a whole number, 0 or more, with { file, rotateBytes }', { keepSegments: options.keepSegments });
  }
  if (options.keepDays !== undefined && (options.rotateBytes === undefined || typeof options.keepDays !== 'number' || !Number.isFinite(options.keepDays) || options.keepDays <= 0)) {
    throw aosError('ERR_CONFIG', 'startTracer: keepDays is a number of days above 0, with { file, rotateBytes }', { keepDays: options.keepDays });
  }
  if (options.anchorEveryMs !== undefined && (options.file === undefined || !Number.isSafeInteger(options.anchorEveryMs) || options.anchorEveryMs < 1)) {
    throw aosError('ERR_CONFIG', 'startTracer: anchorEveryMs is a positive whole number of milliseconds, with { file }', { anchorEveryMs: options.anchorEveryMs });
  }
  if (options.stream !== undefined) await system.openTraceStream(options.stream);
  if (options.anchorEveryMs !== undefined) await system.openTraceAnchors();
  const ns = system.subjects.prefix;
  const config =
    options.file !== undefined
      ? {
          file: options.file,
          ...(options.rotateBytes === undefined ? {} : { rotateBytes: options.rotateBytes }),
          ...(options.keepSegments === undefined ? {} : { keepSegments: options.keepSegments }),
          ...(options.keepDays === undefined ? {} : { keepDays: options.keepDays }),
          ...(options.anchorEveryMs === undefined ? {} : { anchorEveryMs: options.anchorEveryMs }),
        }
      : { stream: options.stream };
  return system.supervise(
    defineSupervisor({
      name: 'trace',
      strategy: 'one_for_one',
      children: [{ module: TRACER_MODULE, type: TRACER_TYPE, key: system.nodeId, subscribe: [`${ns}.trace.>`], config }],
    }),
  );
}
