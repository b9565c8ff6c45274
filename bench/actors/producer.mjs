// Bench fixture: told `{to, n, pad}`, tells `to` n times in one turn (one batch of tells).

import { defineActor } from 'autonomy-os/actor';
import { z } from 'zod';

export default defineActor({
  input: z.object({ to: z.string(), n: z.number().int().min(1).max(10_000), pad: z.string() }),
  init: () => null,
  handle: (state, msg, ctx) => {
    for (let i = 0; i < msg.n; i++) ctx.tell(msg.to, { i, pad: msg.pad });
    return state;
  },
});
