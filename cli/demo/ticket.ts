// The demo's domain: a support ticket, its schema, and the deterministic keyword rules that
// classify it and resolve it (no LLM needed). Shared by the demo's actor modules.

import { z } from 'zod';

export const ticketSchema = z.object({
  id: z.string().min(1),
  subject: z.string().min(1),
  body: z.string().optional(),
});

export type Ticket = z.infer<typeof ticketSchema>;

export type Category = 'billing' | 'tech';

const BILLING = /\b(refund|invoice|charge[ds]?|payment|bill(ed|ing)?|price|subscription)\b/i;

/** Billing words win; anything else goes to tech support. */
export function classify(t: Ticket): Category {
  return BILLING.test(`${t.subject} ${t.body ?? ''}`) ? 'billing' : 'tech';
}

/** Each specialist's rulebook: the first rule whose pattern matches gives the resolution. */
export const RULEBOOKS: Record<Category, [RegExp, string][]> = {
  billing: [
    [/refund/i, 'refund approved'],
    [/invoice/i, 'invoice re-sent'],
    [/charged twice|double|duplicate/i, 'duplicate charge reversed'],
    [/./, 'billing question answered'],
  ],
  tech: [
    [/password|log ?in/i, 'password reset link sent'],
    [/crash|error|bug/i, 'bug filed, workaround sent'],
    [/slow/i, 'cache cleared, speed restored'],
    [/./, 'troubleshooting guide sent'],
  ],
};

export function resolve(category: Category, t: Ticket): string {
  const text = `${t.subject} ${t.body ?? ''}`;
  return RULEBOOKS[category].find(([pattern]) => pattern.test(text))![1];
}

/** What a specialist answers. */
export interface Resolution {
  ticket: string;
  resolution: string;
  /** The specialist instance that resolved it (`billing/b1`). */
  by: string;
}
