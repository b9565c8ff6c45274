// The pure parts of approval rules: the hash that binds a request to its exact action, and
// the conditions on an action's arguments (`when: [{path: "amount", gt: 500}]`).

import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import type { BoundAction } from './approval-types.js';

/** sha256 (hex) of the canonical JSON of the action: the same on every node and in every client. */
export function actionHash(action: BoundAction): string {
  return createHash('sha256').update(canonicalJson({ kind: action.kind, target: action.target, args: action.args ?? null })).digest('hex');
}

export interface Condition {
  path: string;
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
  eq?: unknown;
  ne?: unknown;
  in?: unknown[];
}

export const CONDITION_OPS = ['gt', 'gte', 'lt', 'lte', 'eq', 'ne', 'in'] as const;

/** The value at a dot path (`customer.address.country`, `items.0.price`); undefined when absent. */
export function valueAt(value: unknown, path: string): unknown {
  let v = value;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * Whether a condition holds for the arguments. A field that is missing, or not a number where a
 * comparison needs one, holds: a rule that cannot tell asks a person (fail safe).
 */
export function conditionHolds(c: Condition, args: unknown): boolean {
  const v = valueAt(args, c.path);
  if (v === undefined) return true;
  const num = typeof v === 'number' ? v : undefined;
  if (c.gt !== undefined) return num === undefined || num > c.gt;
  if (c.gte !== undefined) return num === undefined || num >= c.gte;
  if (c.lt !== undefined) return num === undefined || num < c.lt;
  if (c.lte !== undefined) return num === undefined || num <= c.lte;
  if ('eq' in c) return canonicalJson(v) === canonicalJson(c.eq);
  if ('ne' in c) return canonicalJson(v) !== canonicalJson(c.ne);
  if (c.in !== undefined) return c.in.some((x) => canonicalJson(x) === canonicalJson(v));
  return true;
}

export function conditionsHold(when: readonly Condition[], args: unknown): boolean {
  return when.every((c) => conditionHolds(c, args));
}
