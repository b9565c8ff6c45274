// The kernel's record of one local actor: identity, module, current state (msgpack bytes
// the kernel never decodes), mailbox, and whether a turn is in flight. A cell is in at
// most one batch at a time: that is what makes turns one-at-a-time per actor.

import type { Subscription } from 'nats';
import type { AgentAddress } from './address.js';
import type { Envelope, PayloadFormat } from './envelope.js';
import type { AosError } from './errors/aos-error.js';
import type { ChildWatcher } from './supervision-port.js';
import { Mailbox, type OverflowPolicy } from './mailbox.js';

/** How the kernel answers a message: raw JSON/msgpack to an outside client, or an envelope to a node. */
export type ReplyMode = 'raw' | 'envelope';

/** The answer path of an ask between two actors of the same node (no NATS round trip). */
export interface LocalReply {
  resolve(body: { format: PayloadFormat; payload: Uint8Array }): void;
  reject(err: AosError): void;
}

/** A message accepted into a mailbox. */
export interface Delivery {
  env: Envelope;
  /** The subject it arrived on. */
  subject: string;
  /** The NATS reply subject, owned by the kernel; set when the sender waits for an answer. */
  replyTo?: string;
  replyMode: ReplyMode;
  /** Set instead of `replyTo` when the asker runs on this node. */
  local?: LocalReply;
  /** When the mailbox took it (the trace's `received`). */
  receivedAt?: number;
  /** Sent by this actor on this node, its `sent` record not yet written (the trace writes it with the handling: owed-sends.ts). */
  sentBy?: string;
}

/** True when the sender waits for an answer. */
export function awaitsReply(d: Delivery): boolean {
  return d.replyTo !== undefined || d.local !== undefined;
}

/** `failed`: a turn failed and the supervisor has not decided yet; `restarting`: being re-initialised. */
export type CellStatus = 'starting' | 'running' | 'failed' | 'restarting' | 'stopping' | 'stopped';

export interface MailboxOptions {
  capacity?: number;
  overflow?: OverflowPolicy;
}

export class ActorCell {
  readonly id: string;
  state: Uint8Array | null = null;
  status: CellStatus = 'starting';
  /** A batch holding this actor is in flight. */
  busy = false;
  /** Waiting in the dispatcher's ready queue. */
  queued = false;
  readonly mailbox: Mailbox<Delivery>;
  subscriptions: Subscription[] = [];
  turns = 0;
  failures = 0;
  /** Its supervisor, if it has one; an unsupervised actor keeps its state and drops a failed message. */
  watcher: ChildWatcher | undefined;
  /** The message whose turn failed, held while the supervisor decides. */
  failed: { delivery: Delivery; error: AosError } | undefined;
  /** Restarted: its next batch runs `init` first (in the same worker task as its next messages). */
  needsInit = false;
  /** Inits after a restart that ran to completion (its supervisor restarts the next sibling after one). */
  restartInits = 0;
  /** The `config` it was spawned with (msgpack), handed to every run of `init`. */
  config: Uint8Array | undefined;
  /** Suspended by the kill switch: it takes no turns until resumed (its mailbox keeps filling). */
  suspended = false;
  /** Its task subscriptions are live (false before spawn completes, while paused, once stopped). */
  serving = false;
  /** The batch this actor is in, while it is in one: its progress slot, and how to terminate its worker. */
  batch: { progress: SharedArrayBuffer; slot: number; terminate: () => void } | undefined;

  constructor(
    readonly addr: AgentAddress,
    readonly module: string,
    readonly tasks: readonly string[],
    mailbox: Required<MailboxOptions>,
    /** A turn running longer is aborted, then its worker terminated if it does not yield (0: no limit). */
    readonly turnTimeoutMs: number,
    /** Tries of a message whose turn fails before it is dead-lettered (for supervised actors). */
    readonly maxAttempts: number,
  ) {
    this.id = `${addr.type}/${addr.key}`;
    this.mailbox = new Mailbox<Delivery>(mailbox.capacity, mailbox.overflow);
  }
}
