// Whether a child is restarted when it exits: OTP's do_restart/3 as a pure function.
// permanent: always; transient: only after an abnormal exit (not normal, not shutdown);
// temporary: never. (A supervisor stopping its own children is not an exit it reacts to.)

import type { FailureKind } from '../runtime/supervision-port.js';

export type { FailureKind };
export type RestartType = 'permanent' | 'transient' | 'temporary';

export type ExitReason =
  /** The actor stopped itself (ctx.stop()). */
  | { kind: 'normal' }
  /** Something other than its supervisor stopped it (the control plane, another actor). */
  | { kind: 'shutdown' }
  | { kind: 'failure'; failure: FailureKind; code: string };

export function isAbnormal(reason: ExitReason): boolean {
  return reason.kind === 'failure';
}

export function shouldRestart(restart: RestartType, reason: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return true;
    case 'transient':
      return isAbnormal(reason);
    case 'temporary':
      return false;
  }
}

/** What a supervisor does about one kind of failure. `restart` is OTP's; the others go past it. */
export type Directive = 'restart' | 'resume' | 'stop' | 'escalate';

export type Directives = Readonly<Record<FailureKind, Directive>>;

export const DEFAULT_DIRECTIVES: Directives = {
  threw: 'restart',
  timeout: 'restart',
  'worker-died': 'restart',
  'output-schema': 'restart',
};
