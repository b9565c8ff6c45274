// Whether a child is restarted when it exits: OTP's do_restart/3 as a pure function.
// permanent: always; transient: only after an abnormal exit; temporary: never.

export type RestartType = 'permanent' | 'transient' | 'temporary';

/** The ways a turn can fail, each of which a supervisor may answer differently. */
export type FailureKind = 'threw' | 'timeout' | 'worker-died' | 'output-schema';

export type ExitReason =
  /** The actor stopped itself (ctx.stop()). */
  | { kind: 'normal' }
  /** Its supervisor or the node stopped it. */
  | { kind: 'shutdown' }
  | { kind: 'failure'; failure: FailureKind; code: string };

export function isAbnormal(reason: ExitReason): boolean {
  return reason.kind === 'failure';
}

export function shouldRestart(restart: RestartType, reason: ExitReason): boolean {
  switch (restart) {
    case 'permanent':
      return reason.kind !== 'shutdown';
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
