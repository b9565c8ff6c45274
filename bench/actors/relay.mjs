// Bench fixture: on each message asks its echo (`echo/<its own key>`, or `to` when given)
// and replies with the answer, so every request costs the broker at least one decision
// (the ask, decided by the kernel when made, after the worker's own check).

import { defineActor } from 'autonomy-os/actor';
import { z } from 'zod';

export default defineActor({
  input: z.object({ text: z.string(), to: z.string().optional() }),
  init: () => null,
  handle: async (state, msg, ctx) => {
    const to = msg.to ?? `echo/${ctx.self.slice(ctx.self.indexOf('/') + 1)}`;
    ctx.reply(await ctx.ask(to, { text: msg.text }));
    return state;
  },
});
