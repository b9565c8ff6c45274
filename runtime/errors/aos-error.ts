// The one base error of the runtime: a stable `code` from the catalogue, structured
// `details`, and the original error as `cause`. Errors cross threads and NATS as
// `{code, message, details}` (WireError) and are rebuilt on arrival by `fromWire`.

import { isErrorCode, type ErrorCode } from './codes.js';

export type ErrorDetails = Readonly<Record<string, unknown>>;

export interface WireError {
  code: ErrorCode;
  message: string;
  details?: ErrorDetails;
  stack?: string;
}

export class AosError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = details;
  }

  override get name(): string {
    return 'AosError';
  }

  toWire(includeStack = false): WireError {
    const wire: WireError = { code: this.code, message: this.message };
    if (Object.keys(this.details).length > 0) wire.details = this.details;
    if (includeStack && this.stack !== undefined) wire.stack = this.stack;
    return wire;
  }

  toJSON(): WireError {
    return this.toWire();
  }
}

/** Bad input from outside the kernel: decode, schema, size, id and subject errors. */
export class InputError extends AosError {
  override get name(): string {
    return 'InputError';
  }
}

/** Delivery problems: unknown actor, full mailbox, timeouts, stopped actors, transport. */
export class DeliveryError extends AosError {
  override get name(): string {
    return 'DeliveryError';
  }
}

/** A turn that failed: the handler threw, broke its schema, timed out, or its worker died. */
export class TurnError extends AosError {
  override get name(): string {
    return 'TurnError';
  }
}

/** Setup problems: configuration, actor modules, the nats-server binary. */
export class ConfigError extends AosError {
  override get name(): string {
    return 'ConfigError';
  }
}

/** The broker refused an action: denied, or waiting for a human. */
export class DeniedError extends AosError {
  override get name(): string {
    return 'DeniedError';
  }
}

const FAMILY: Partial<Record<ErrorCode, new (c: ErrorCode, m: string, d?: ErrorDetails) => AosError>> = {
  ERR_INVALID_ID: InputError,
  ERR_INVALID_SUBJECT: InputError,
  ERR_DECODE: InputError,
  ERR_ENCODE: TurnError,
  ERR_INPUT_SCHEMA: InputError,
  ERR_PAYLOAD_TOO_LARGE: InputError,
  ERR_UNKNOWN_ACTOR: DeliveryError,
  ERR_MAILBOX_FULL: DeliveryError,
  ERR_TIMEOUT: DeliveryError,
  ERR_NO_REPLY: DeliveryError,
  ERR_DEADLOCK: DeliveryError,
  ERR_ACTOR_STOPPED: DeliveryError,
  ERR_SHUTTING_DOWN: DeliveryError,
  ERR_TRANSPORT: DeliveryError,
  ERR_HANDLER_FAILED: TurnError,
  ERR_OUTPUT_SCHEMA: TurnError,
  ERR_WORKER_DIED: TurnError,
  ERR_TURN_TIMEOUT: TurnError,
  ERR_MEMORY_LIMIT: TurnError,
  ERR_INTENSITY: TurnError,
  ERR_UNAVAILABLE: DeliveryError,
  ERR_ALREADY_REPLIED: TurnError,
  ERR_ACTOR_MODULE: ConfigError,
  ERR_ACTOR_EXISTS: ConfigError,
  ERR_NATS_SERVER_NOT_FOUND: ConfigError,
  ERR_CONFIG: ConfigError,
  ERR_BAD_REQUEST: InputError,
  ERR_DENIED: DeniedError,
  ERR_APPROVAL_REQUIRED: DeniedError,
  ERR_APPROVAL_PENDING: DeniedError,
  ERR_APPROVAL_NOT_FOUND: InputError,
  ERR_APPROVAL_REFUSED: DeniedError,
  ERR_APPROVAL_DECIDED: InputError,
  ERR_OUTCOME_UNKNOWN: DeliveryError,
  ERR_POLICY: ConfigError,
  ERR_UNKNOWN_TOOL: DeliveryError,
  ERR_TOOL_INPUT: InputError,
  ERR_TOOL_OUTPUT: TurnError,
  ERR_TOOL_FAILED: TurnError,
  ERR_TRACE_LOG: ConfigError,
};

/** Builds the error of the right family for a code. */
export function aosError(code: ErrorCode, message: string, details: ErrorDetails = {}, cause?: unknown): AosError {
  const Family = FAMILY[code] ?? AosError;
  const err = new Family(code, message, details);
  if (cause !== undefined) Object.defineProperty(err, 'cause', { value: cause, enumerable: false, writable: true, configurable: true });
  return err;
}

/** Rebuilds an error that crossed a thread or NATS. Unknown codes become ERR_INTERNAL, keeping the original code in details. */
export function fromWire(wire: unknown): AosError {
  if (typeof wire !== 'object' || wire === null) {
    return aosError('ERR_INTERNAL', 'malformed error payload', { received: typeof wire });
  }
  const w = wire as Partial<WireError>;
  const message = typeof w.message === 'string' ? w.message : 'unknown error';
  const details = typeof w.details === 'object' && w.details !== null ? w.details : {};
  const err = isErrorCode(w.code)
    ? aosError(w.code, message, details)
    : aosError('ERR_INTERNAL', message, { ...details, originalCode: w.code });
  if (typeof w.stack === 'string') err.stack = w.stack;
  return err;
}

/** Any thrown value as an AosError: AosErrors pass through, others are wrapped with `fallback`. */
export function toAosError(err: unknown, fallback: ErrorCode = 'ERR_INTERNAL', details: ErrorDetails = {}): AosError {
  if (err instanceof AosError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const wrapped = aosError(fallback, message, details, err);
  if (err instanceof Error && err.stack !== undefined) wrapped.stack = err.stack;
  return wrapped;
}
