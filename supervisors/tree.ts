// The live supervision tree as data: what `system.tree()` returns and `aos tree` prints.

import type { Intensity } from './intensity.js';

export interface FailureInfo {
  code: string;
  message: string;
  kind: string;
  at: number;
}

export interface ActorNode {
  kind: 'actor';
  id: string;
  status: string;
  restart: string;
  restarts: number;
  lastFailure?: FailureInfo;
}

export interface SupervisorNode {
  kind: 'supervisor';
  name: string;
  strategy: string;
  status: string;
  /** Restarts of its children inside the current intensity window. */
  restarts: number;
  intensity: Intensity;
  /** As a child of another supervisor: how many times its parent restarted it. */
  timesRestarted?: number;
  children: (SupervisorNode | ActorNode)[];
  lastFailure?: FailureInfo;
}
