// The triage agent: takes tickets from `aos.task.tickets` (JSON from any NATS client),
// classifies them, asks a specialist for the resolution and answers the client with it.
// It spreads its asks over the team round-robin; its state is where it is in each rota.

import { defineActor } from 'autonomy-os/actor';
import { classify, ticketSchema, type Category, type Resolution } from './ticket.js';

/** The specialists triage hands work to (the demo spawns exactly these). */
export const TEAM: Record<Category, readonly string[]> = {
  billing: ['billing/b1', 'billing/b2'],
  tech: ['tech/t1'],
};

export default defineActor({
  input: ticketSchema,
  init: () => ({ rota: { billing: 0, tech: 0 } as Record<Category, number>, routed: 0 }),
  handle: async (state, ticket, ctx) => {
    const category = classify(ticket);
    const team = TEAM[category];
    const specialist = team[state.rota[category] % team.length]!;
    const answer = await ctx.ask<Resolution>(specialist, ticket, { timeoutMs: 2_000 });
    ctx.reply({ ticket: ticket.id, category, route: [ctx.self, answer.by], resolution: answer.resolution });
    return { rota: { ...state.rota, [category]: state.rota[category] + 1 }, routed: state.routed + 1 };
  },
});
