// The public API of Autonomy OS: everything a user imports comes from here, by name.

export { defineActor } from './runtime/define-actor.js';
export type { ActorContext, ActorDefinition, ActorSpec, AskOptions, SpawnOptions } from './runtime/define-actor.js';
export { ActorSystem } from './runtime/system.js';
export type { ActorInfo, SpawnActorOptions } from './runtime/system.js';
export type { ActorSystemOptions } from './runtime/system-options.js';
export type { ActorRef } from './runtime/actor-ref.js';
export type { AgentId } from './runtime/address.js';
export { parseAgentId, isAgentId, EXTERNAL } from './runtime/address.js';
export { AosError, InputError, DeliveryError, TurnError, ConfigError } from './runtime/errors/aos-error.js';
export type { WireError } from './runtime/errors/aos-error.js';
export { ERROR_CODES } from './runtime/errors/codes.js';
export type { ErrorCode } from './runtime/errors/codes.js';
export type { OverflowPolicy } from './runtime/mailbox.js';
export { ManualClock, systemClock } from './runtime/clock.js';
export type { Clock } from './runtime/clock.js';
export type { DeadLetter } from './runtime/dead-letters.js';
export { defineSupervisor } from './supervisors/define-supervisor.js';
export type { SupervisorSpec, SupervisorSpecInput, ActorChildSpec, Strategy } from './supervisors/spec.js';
export type { SupervisorNode, ActorNode } from './supervisors/tree.js';
export type { SupervisorHandle, EscalationEvent, FailureKind } from './runtime/supervision-port.js';
export type { RestartType, Directive } from './supervisors/restart-decision.js';
