// Bench fixture: echoes the text it got and says which actor answered (`by`: its AgentId,
// whose key is its node's id), so failover-gap can see which node served each request.

import { defineActor } from 'autonomy-os/actor';
import { z } from 'zod';

export default defineActor({
  input: z.object({ text: z.string() }),
  init: () => null,
  handle: (state, msg, ctx) => {
    ctx.reply({ text: msg.text, by: ctx.self });
    return state;
  },
});
