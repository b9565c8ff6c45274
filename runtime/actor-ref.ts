// A handle on any actor, local or on another node: both go over NATS, so a ref behaves the
// same wherever the actor runs.

import type { AgentId } from './address.js';

export interface ActorRef {
  readonly id: AgentId;
  /** Sends a message; returns once it is handed to NATS. Delivery failures are dead-lettered. */
  tell(value: unknown): void;
  /** Sends a message and waits for the reply (or a typed error: ERR_TIMEOUT, ERR_UNKNOWN_ACTOR, the handler's failure...). */
  ask<R = unknown>(value: unknown, options?: { timeoutMs?: number }): Promise<R>;
}
