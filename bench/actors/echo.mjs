// Bench fixture: replies with the message it got. The cheapest actor there is, so the
// ask benches measure the runtime's path, not the handler.

import { defineActor } from 'autonomy-os/actor';
import { z } from 'zod';

export default defineActor({
  input: z.object({ text: z.string() }),
  init: () => null,
  handle: (state, msg, ctx) => {
    ctx.reply(msg);
    return state;
  },
});
