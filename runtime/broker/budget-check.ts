// Which of a role's budgets refuses an action, given what is left of each: one rule for the
// kernel's broker (counters) and the worker's call-site check (figures handed over per batch).
// A counting budget in the action's scope refuses when nothing is left, else the action uses
// one; a unit budget refuses the actions in its `appliesTo` once it is spent.

import { inScope } from './policy.js';
import type { Action, BudgetDoc } from './policy-schema.js';

export interface BudgetCheck {
  /** Index of the first budget that refuses the action, or -1. */
  refused: number;
  /** Counting budgets the action uses if it goes ahead (none is spent until every limit passed). */
  counted: number[];
}

export function checkBudgets(budgets: readonly BudgetDoc[], left: (i: number) => number, action: Action, target: string, ignore: (b: BudgetDoc) => boolean = () => false): BudgetCheck {
  const counted: number[] = [];
  for (let i = 0; i < budgets.length; i++) {
    const b = budgets[i]!;
    if (ignore(b)) continue;
    if (b.counts !== undefined) {
      if (!inScope(b.counts, action, target)) continue;
      if (left(i) < 1) return { refused: i, counted };
      counted.push(i);
    } else if (inScope(b.appliesTo, action, target) && left(i) <= 0) {
      return { refused: i, counted };
    }
  }
  return { refused: -1, counted };
}
