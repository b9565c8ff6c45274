// Bench fixture: counts the tells it gets. Armed with `{expect, subject}` (an ask, so the
// count is reset before any tell arrives), it publishes `{count}` on `subject` once it has
// counted `expect` messages.

import { defineActor } from 'autonomy-os/actor';
import { z } from 'zod';

const arm = z.object({ expect: z.number().int().min(1), subject: z.string() });
const tick = z.object({ i: z.number().int(), pad: z.string() });

export default defineActor({
  input: z.union([arm, tick]),
  init: () => ({ count: 0, expect: 0, subject: '' }),
  handle: (state, msg, ctx) => {
    if ('expect' in msg) {
      ctx.reply({ armed: msg.expect });
      return { count: 0, expect: msg.expect, subject: msg.subject };
    }
    const count = state.count + 1;
    if (count === state.expect) ctx.publish(state.subject, { count });
    return { ...state, count };
  },
});
