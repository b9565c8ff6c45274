// `autonomy-os/actor`: what an actor module needs, and nothing of the kernel. Worker threads
// import actor modules; importing this instead of the package's main entry keeps each worker
// from loading the NATS client, piscina and the rest of the kernel it never uses.

export { defineActor } from './runtime/define-actor.js';
export type { ActorContext, ActorDefinition, ActorSpec, ApprovalRequest, AskOptions, CallOptions, RawInput, SpawnOptions } from './runtime/define-actor.js';
export { AosError, InputError, DeliveryError, TurnError, ConfigError, DeniedError } from './runtime/errors/aos-error.js';
export type { ErrorCode } from './runtime/errors/codes.js';
export type { ApprovalOutcome } from './runtime/approvals/approval-types.js';
