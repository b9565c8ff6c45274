// Bench fixture: fails on request, the two ways restart-latency measures. `throw`: the
// handler throws (the worker survives); `exit`: the handler ends its worker thread
// (process.exit in a worker ends only that thread), so the pool must replace it.
// `ok` replies with how many turns this incarnation has handled (1 for the first after a
// restart). `at` (in a reply or the thrown message) is when the handler ran, in wall-clock ms
// with microseconds, comparable across the threads of one process (timeOrigin + now()).

import { defineActor } from 'autonomy-os/actor';
import { z } from 'zod';

export default defineActor({
  input: z.object({ do: z.enum(['ok', 'throw', 'exit']) }),
  init: () => ({ handled: 0 }),
  handle: (state, msg, ctx) => {
    const at = performance.timeOrigin + performance.now();
    if (msg.do === 'throw') throw new Error(`asked to throw at ${at}`);
    if (msg.do === 'exit') process.exit(3);
    ctx.reply({ handled: state.handled + 1, at });
    return { handled: state.handled + 1 };
  },
});
