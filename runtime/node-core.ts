// The internals one node's kernel parts share: the ActorSystem builds this once and hands it
// to the parts it delegates to (turn-results.ts, supervision-host.ts). Not public API.

import type { ApprovalService } from './approvals/approval-service.js';
import type { Msg, Subscription } from 'nats';
import type { Logger } from 'pino';
import type { ActorCell, Delivery } from './actor-cell.js';
import type { Broker } from './broker/broker.js';
import type { TraceEmitter } from './trace/trace-emitter.js';
import type { OtelSpans } from './trace/otel.js';
import type { Clock } from './clock.js';
import type { DeadLetters } from './dead-letters.js';
import type { Dispatcher } from './dispatcher.js';
import type { Envelope } from './envelope.js';
import type { AosError } from './errors/aos-error.js';
import type { Outbox } from './outbox.js';
import type { WorkerPool } from './pool.js';
import type { Quiescence } from './quiescence.js';
import type { Subjects } from './subjects.js';
import type { ChildWatcher, ExitKind } from './supervision-port.js';
import type { SpawnActorOptions } from './system.js';
import type { NatsTransport } from './transport/nats-transport.js';

export interface NodeCore {
  readonly nodeId: string;
  readonly systemId: string;
  readonly subjects: Subjects;
  readonly log: Logger;
  readonly clock: Clock;
  readonly maxMessageBytes: number;
  readonly cells: Map<string, ActorCell>;
  readonly transport: NatsTransport;
  readonly outbox: Outbox;
  readonly deadLetters: DeadLetters;
  readonly dispatcher: Dispatcher;
  readonly pool: WorkerPool;
  readonly quiet: Quiescence;
  readonly broker: Broker;
  readonly trace: TraceEmitter;
  /** OpenTelemetry spans, when the user registered a tracer provider (trace/otel.ts). */
  readonly otel?: OtelSpans | undefined;
  /** The cluster key that seals envelopes. */
  readonly key: Uint8Array;
  /** False once the node drains: failures are then dropped, not supervised. */
  running(): boolean;
  /** The node's approval queue (undefined without JetStream). */
  approvals(): ApprovalService | undefined;
  /** A message that will not be handled: typed error reply (if the sender waits), dead letter, log. */
  reject(cell: ActorCell, d: Delivery, err: AosError, raw?: Uint8Array): void;
  spawnCell(module: string | URL, options: SpawnActorOptions, watcher: ChildWatcher | undefined): Promise<string>;
  stopCell(id: string, options: { shutdownMs: number; exit: ExitKind | undefined }): Promise<boolean>;
  /** Ends the cell's in-flight turn: aborted through ctx.signal, its worker terminated after `shutdownMs`. */
  quiesce(cell: ActorCell, reason: AosError, shutdownMs: number): Promise<void>;
  subscribeTask(cell: ActorCell, subject: string): Subscription;
  /** Hands a message that arrived on a task subject to a cell, as its own subscription would. */
  receiveTask(cell: ActorCell, msg: Msg): void;
  /** An envelope for a message whose own could not be read (for its dead letter). */
  stubEnvelope(to: string, msg: Msg): Envelope;
  /** Asks every node to stop an actor that is not local. */
  broadcastStop(id: string): void;
}
