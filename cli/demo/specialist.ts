// A support specialist. One module, several actor types: spawned as `billing/<key>` it uses
// the billing rulebook, as `tech/<key>` the tech one. Instances of a type share a task
// subject (aos.task.billing), so NATS spreads that queue's tickets over them. A refund the
// policy holds for a person is answered at once ("held"); how it ended comes back later to
// onApproval, which announces it on `<ns>.evt.refunds.<status>`.

import { AosError, defineActor, type ActorContext, type ApprovalOutcome } from 'autonomy-os/actor';
import { RULEBOOKS, resolve, ticketSchema, type Category, type Resolution } from './ticket.js';

interface State {
  category: Category;
  handled: number;
  /** Refunds waiting for a person: approval id -> ticket id, so the outcome can name its ticket. */
  held: Record<string, string>;
}

/** What `<ns>.evt.refunds.<status>` carries once a person (or the clock) settled a held refund. */
export interface RefundSettled {
  ticket: string | null;
  approvalId: string;
  status: ApprovalOutcome['status'];
  amount: number | null;
  decidedBy: string | null;
  refunded: number | null;
}

function categoryOf(self: string): Category {
  const type = self.slice(0, self.indexOf('/'));
  if (!(type in RULEBOOKS)) throw new Error(`specialist: no rulebook for actor type ${JSON.stringify(type)} (use billing or tech)`);
  return type as Category;
}

export default defineActor({
  input: ticketSchema,
  init: (ctx): State => ({ category: categoryOf(ctx.self), handled: 0, held: {} }),
  handle: async (state: State, ticket, ctx) => {
    const refund = await refundOr(resolve(state.category, ticket), ticket, ctx);
    const answer: Resolution = { ticket: ticket.id, resolution: refund.text, by: ctx.self };
    ctx.reply(answer);
    const held = refund.approvalId === undefined ? state.held : { ...state.held, [refund.approvalId]: ticket.id };
    return { ...state, handled: state.handled + 1, held };
  },
  onApproval: (state: State, outcome, ctx) => {
    const { [outcome.approvalId]: ticket, ...stillHeld } = state.held;
    const args = outcome.action.args as { amount?: unknown } | null;
    const result = outcome.result as { refunded?: unknown } | undefined;
    const settled: RefundSettled = {
      ticket: ticket ?? null,
      approvalId: outcome.approvalId,
      status: outcome.status,
      amount: typeof args?.amount === 'number' ? args.amount : null,
      decidedBy: outcome.decidedBy ?? null,
      refunded: typeof result?.refunded === 'number' ? result.refunded : null,
    };
    ctx.log.info({ refund: settled, error: outcome.error }, 'a held refund was settled');
    ctx.publish(`${namespaceOf(ctx)}.evt.refunds.${outcome.status}`, settled);
    return { ...state, held: stillHeld };
  },
});

/** The namespace is the first token of the subject the message came on (`aos.actor.billing.b1`). */
function namespaceOf(ctx: Pick<ActorContext, 'subject'>): string {
  return (ctx.subject ?? 'aos').split('.')[0]!;
}

/** A ticket asking for a refund of an amount goes through the payments tools; the policy says
 *  which amounts a person must approve (payments.refund.large), and the broker holds those back
 *  as an approval request: the turn goes on, and the outcome arrives in onApproval. */
async function refundOr(resolution: string, ticket: { subject: string; body?: string | undefined }, ctx: Pick<ActorContext, 'call'>): Promise<{ text: string; approvalId?: string }> {
  const m = /refund of (\d+)/i.exec(`${ticket.subject} ${ticket.body ?? ''}`);
  if (m === null) return { text: resolution };
  const amount = Number(m[1]);
  try {
    const done = await ctx.call<{ refunded: number }>(amount > 100 ? 'payments.refund.large' : 'payments.refund', { amount });
    return { text: `refunded ${done.refunded} EUR` };
  } catch (err) {
    if (err instanceof AosError && err.code === 'ERR_APPROVAL_PENDING') {
      const approvalId = String(err.details['approvalId']);
      return { text: `refund of ${amount} EUR held for a human (approval ${approvalId})`, approvalId };
    }
    throw err;
  }
}
