// The two policies the broker benches compare: a realistic one (several roles, wildcard
// grants, deny lists, a rate limit too high to bite, budgets and approvals that do not
// cover asks but are still evaluated) and an allow-all one (one role, '>' everywhere, no
// limits). Both are valid policy documents for namespace `ns`.

/** A support-desk-like policy under which relay/* may ask echo/* and nothing bites. */
export function realisticPolicy(ns) {
  return {
    name: 'bench: realistic',
    roles: {
      relay: {
        description: 'asks echo actors; publishes its own events; a few tools',
        publish: { allow: [`${ns}.evt.relay.>`, `${ns}.task.relay.*`], deny: [`${ns}.evt.relay.secret.>`] },
        subscribe: { allow: [`${ns}.task.relay.>`], deny: [`${ns}.task.relay.private`] },
        tell: { allow: [`${ns}.actor.echo.*`, `${ns}.actor.audit.*`], deny: [`${ns}.actor.echo.admin`] },
        ask: { allow: [`${ns}.actor.billing.*`, `${ns}.actor.tech.>`, `${ns}.actor.echo.*`], deny: [`${ns}.actor.echo.admin`, `${ns}.actor.echo.root`] },
        tools: { allow: ['crm.*', 'search.>', 'payments.>'], deny: ['crm.delete'] },
        spawn: { allow: ['helper'], deny: ['relay'] },
        rateLimit: { perSecond: 10_000_000, burst: 1_000_000 },
        budgets: [
          { name: 'model-tokens', unit: 'tokens', limit: 1e12, windowMs: 86_400_000, appliesTo: { action: 'call' } },
          { name: 'refunds', counts: { action: 'call', target: 'payments.refund' }, limit: 10, onExhausted: 'approval' },
        ],
        approvals: [{ action: 'call', target: 'payments.>', when: [{ path: 'amount', gt: 500 }], chain: [{ approvers: ['finance'], timeoutMs: 3_600_000 }] }],
      },
      echo: {
        publish: { allow: [`${ns}.evt.echo.>`] },
        subscribe: { allow: [`${ns}.task.echo`, `${ns}.task.echo.>`] },
        tools: { allow: ['crm.lookup'] },
        rateLimit: { perSecond: 10_000_000, burst: 1_000_000 },
      },
      billing: {
        publish: { allow: [`${ns}.evt.billing.>`, `${ns}.evt.tickets.>`] },
        subscribe: { allow: [`${ns}.task.billing.>`] },
        tell: { allow: [`${ns}.actor.tech.*`] },
        ask: { allow: [`${ns}.actor.tech.*`] },
        tools: { allow: ['payments.>'], deny: ['payments.admin.>'] },
        budgets: [{ name: 'refunds', counts: { action: 'call', target: 'payments.refund' }, limit: 100, windowMs: 3_600_000 }],
      },
      observer: {
        subscribe: { allow: [`${ns}.evt.>`] },
      },
    },
    actors: {
      relay: { role: 'relay', owner: 'bench' },
      echo: { role: 'echo', owner: 'bench' },
      billing: { role: 'billing', owner: 'finance' },
      '*': { role: 'observer' },
    },
  };
}

/** One role, '>' for every grant, any type spawnable, no limits. */
export function allowAllPolicy() {
  const all = { allow: ['>'], deny: [] };
  return {
    name: 'bench: allow all',
    roles: { all: { publish: all, subscribe: all, tell: all, ask: all, tools: all, spawn: { allow: ['*'], deny: [] } } },
    actors: { '*': { role: 'all' } },
  };
}
