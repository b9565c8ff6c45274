// The contract between the kernel and the tool workers (the one place both sides share types).

import type { MessagePort } from 'node:worker_threads';
import type { WireError } from '../errors/aos-error.js';

export interface ToolTask {
  module: string;
  tool: string;
  /** msgpack */
  args: Uint8Array;
  actor: { id: string; role: string | null; owner: string | null };
  correlationId: string;
  traceparent: string;
  /** Reports go out on it; an 'abort' message comes in on it. */
  port: MessagePort;
}

export type ToolTaskResult = { ok: true; result: Uint8Array } | { ok: false; error: WireError };

