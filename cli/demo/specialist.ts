// A support specialist. One module, several actor types: spawned as `billing/<key>` it uses
// the billing rulebook, as `tech/<key>` the tech one. Instances of a type share a task
// subject (aos.task.billing), so NATS spreads that queue's tickets over them.

import { AosError, defineActor } from 'autonomy-os/actor';
import { RULEBOOKS, resolve, ticketSchema, type Category, type Resolution } from './ticket.js';

function categoryOf(self: string): Category {
  const type = self.slice(0, self.indexOf('/'));
  if (!(type in RULEBOOKS)) throw new Error(`specialist: no rulebook for actor type ${JSON.stringify(type)} (use billing or tech)`);
  return type as Category;
}

export default defineActor({
  input: ticketSchema,
  init: (ctx) => ({ category: categoryOf(ctx.self), handled: 0 }),
  handle: async (state, ticket, ctx) => {
    const answer: Resolution = { ticket: ticket.id, resolution: await refundOr(resolve(state.category, ticket), ticket, ctx), by: ctx.self };
    ctx.reply(answer);
    return { ...state, handled: state.handled + 1 };
  },
});

/** A ticket asking for a refund of an amount goes through the payments tools; the policy says
 *  which amounts a human must approve (payments.refund.large), and the broker holds those back. */
async function refundOr(resolution: string, ticket: { subject: string; body?: string | undefined }, ctx: { call<R>(tool: string, args: unknown): Promise<R> }): Promise<string> {
  const m = /refund of (\d+)/i.exec(`${ticket.subject} ${ticket.body ?? ''}`);
  if (m === null) return resolution;
  const amount = Number(m[1]);
  try {
    const done = await ctx.call<{ refunded: number }>(amount > 100 ? 'payments.refund.large' : 'payments.refund', { amount });
    return `refunded ${done.refunded} EUR`;
  } catch (err) {
    if (err instanceof AosError && err.code === 'ERR_APPROVAL_REQUIRED') return `refund of ${amount} EUR held for a human (ERR_APPROVAL_REQUIRED)`;
    throw err;
  }
}
