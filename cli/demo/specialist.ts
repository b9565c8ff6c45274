// A support specialist. One module, several actor types: spawned as `billing/<key>` it uses
// the billing rulebook, as `tech/<key>` the tech one. Instances of a type share a task
// subject (aos.task.billing), so NATS spreads that queue's tickets over them.

import { defineActor } from 'autonomy-os/actor';
import { RULEBOOKS, resolve, ticketSchema, type Category, type Resolution } from './ticket.js';

function categoryOf(self: string): Category {
  const type = self.slice(0, self.indexOf('/'));
  if (!(type in RULEBOOKS)) throw new Error(`specialist: no rulebook for actor type ${JSON.stringify(type)} (use billing or tech)`);
  return type as Category;
}

export default defineActor({
  input: ticketSchema,
  init: (ctx) => ({ category: categoryOf(ctx.self), handled: 0 }),
  handle: (state, ticket, ctx) => {
    const answer: Resolution = { ticket: ticket.id, resolution: resolve(state.category, ticket), by: ctx.self };
    ctx.reply(answer);
    return { ...state, handled: state.handled + 1 };
  },
});
