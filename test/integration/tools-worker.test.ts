import { describe, expect, test } from 'vitest';
import { threadId } from 'node:worker_threads';
import { governed, policy } from '../fixtures/broker/setup.js';

const PRICING = new URL('../fixtures/tools/pricing.ts', import.meta.url);

describe('tools in the tool pool', () => {
  test('tool pool - a { module } tool runs in a worker of its own, validates its arguments, and carries the caller', async () => {
    const g = await governed(() => policy({ seller: { tools: { allow: ['pricing.quote'] } } }, { seller: { role: 'seller', owner: 'sales' } }));
    g.system.registerTool('pricing.quote', { module: PRICING });
    await g.agent('seller', 'a');
    const ok = await g.act('seller/a', { op: 'call', tool: 'pricing.quote', args: { sku: 'x1', qty: 4 } });
    expect(ok).toMatchObject({ ok: true, result: { sku: 'x1', total: 10, caller: 'seller/a (seller)' } });
    expect((ok as { result: { thread: number } }).result.thread).not.toBe(threadId); // not the kernel's thread
    expect(await g.act('seller/a', { op: 'call', tool: 'pricing.quote', args: { sku: 'x1', qty: -1 } })).toMatchObject({ ok: false, error: { code: 'ERR_TOOL_INPUT' } });
    expect(await g.act('seller/a', { op: 'call', tool: 'pricing.quote', args: { sku: 'x1', qty: 1, mode: 'bad-output' } })).toMatchObject({ ok: false, error: { code: 'ERR_TOOL_OUTPUT' } });
    expect(await g.act('seller/a', { op: 'call', tool: 'pricing.quote', args: { sku: 'x1', qty: 1, mode: 'throw' } })).toMatchObject({ ok: false, error: { code: 'ERR_TOOL_FAILED' } });
  });

  test('tool pool - units the tool reports count against the caller budget; a timeout aborts the tool through its signal', async () => {
    const g = await governed(() =>
      policy({ seller: { tools: { allow: ['pricing.quote'] }, budgets: [{ name: 'model-tokens', unit: 'tokens', limit: 5 }] } }, { seller: { role: 'seller' } }),
    );
    g.system.registerTool('pricing.quote', { module: PRICING });
    await g.agent('seller', 'a');
    expect(await g.act('seller/a', { op: 'call', tool: 'pricing.quote', args: { sku: 'x1', qty: 6 } })).toMatchObject({ ok: true });
    // 6 of 5 tokens reported by the tool: the next call is refused before it runs
    expect(await g.act('seller/a', { op: 'call', tool: 'pricing.quote', args: { sku: 'x1', qty: 1 } })).toMatchObject({ ok: false, error: { code: 'ERR_DENIED', reason: 'budget' } });

    const h = await governed(() => policy({ seller: { tools: { allow: ['pricing.quote'] } } }, { seller: { role: 'seller' } }));
    h.system.registerTool('pricing.quote', { module: PRICING });
    await h.agent('seller', 'b');
    // warm: the pool starts and loads the module at the first call, which the deadline below must not include
    expect(await h.act('seller/b', { op: 'call', tool: 'pricing.quote', args: { sku: 'x0', qty: 1 } })).toMatchObject({ ok: true });
    expect(await h.act('seller/b', { op: 'call', tool: 'pricing.quote', args: { sku: 'x1', qty: 1, mode: 'hang' }, timeoutMs: 300 })).toMatchObject({ ok: false, error: { code: 'ERR_TIMEOUT' } });
    // the pool is free again: the hung call ended when its signal aborted
    expect(await h.act('seller/b', { op: 'call', tool: 'pricing.quote', args: { sku: 'x2', qty: 2 } })).toMatchObject({ ok: true, result: { total: 5 } });
  });

  test('tool pool - a module that does not default-export defineTool fails the call with ERR_CONFIG', async () => {
    const g = await governed(() => policy({ seller: { tools: { allow: ['broken.tool'] } } }, { seller: { role: 'seller' } }));
    g.system.registerTool('broken.tool', { module: new URL('../fixtures/echo.ts', import.meta.url) });
    await g.agent('seller', 'a');
    expect(await g.act('seller/a', { op: 'call', tool: 'broken.tool', args: {} })).toMatchObject({ ok: false, error: { code: 'ERR_CONFIG' } });
  });
});
