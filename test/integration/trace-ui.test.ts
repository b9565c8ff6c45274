// The trace page of `aos start --ui` (cli/trace-ui.ts) in a real headless browser: serveTraceUi
// on a free port over a hand-built log (test/helpers/trace-chain.ts, written by FileLog); chromium,
// driven by playwright-core, opens `/`, finds the chain listed, follows its link and finds the
// diagram drawn. Plain HTTP for the 400 and 404s, and the built CLI for `--ui` without `--trace`.
// .ci/ensure-chromium.sh finds /usr/bin/chromium (or installs it once, as root): beforeAll runs it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM_SETUP_MS, launchChromium, pixels } from '../helpers/browser.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveTraceUi, type TraceUi } from '../../cli/trace-ui.js';
import { runAos } from '../helpers/processes.js';
import { CHAIN, OTHER_CHAIN, PARTICIPANTS, T0, writeChainLog } from '../helpers/trace-chain.js';



let dir: string;
let ui: TraceUi;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'aos-trace-ui-'));
  ui = await serveTraceUi({ file: writeChainLog(dir), port: 0 });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
}, CHROMIUM_SETUP_MS);

afterAll(async () => {
  await browser?.close();
  await ui?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});



describe('trace ui', () => {
  it('trace ui - listens on 127.0.0.1 only, on the free port it was given', () => {
    expect(ui.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/$/);
  });

  it('trace ui - / lists the chains newest first, the failed and denied one in red', async () => {
    const res = await page.goto(ui.url, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    expect(await page.$$eval('#chains tr.chain', (els) => els.map((e) => e.getAttribute('data-chain')))).toEqual([OTHER_CHAIN, CHAIN]);
    const row = page.locator(`#chains tr[data-chain="${CHAIN}"]`);
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe(new Date(T0).toISOString().replace('T', ' ').replace('Z', ''));
    expect(cells[2]).toBe('external/web → demo.task.tickets');
    expect(cells[3]).toBe('3');
    expect(cells[4]).toBe('failed, denied');
    const color = await row.locator('td.status').evaluate((e) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color);
    expect(color).toBe('rgb(211, 47, 47)');
    expect(await page.locator(`#chains tr[data-chain="${OTHER_CHAIN}"] td.status`).textContent()).toBe('ok');
  });

  it('trace ui - a chain link opens its sequence diagram, with a link back', async () => {
    await page.goto(ui.url, { waitUntil: 'load' });
    await page.locator(`#chains tr[data-chain="${CHAIN}"] a`).click();
    await page.waitForURL(`${ui.url}chain/${CHAIN}`);
    expect(await page.title()).toBe(`Chain of work ${CHAIN}`);
    expect(await page.$$eval('#sequence .lifeline', (els) => els.map((e) => e.getAttribute('data-actor')))).toEqual(PARTICIPANTS);
    const png = await page.screenshot({ fullPage: true });
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    const shot = await pixels(browser, png);
    expect(shot.width).toBe(1280);
    expect(shot.inked / (shot.width * shot.height)).toBeGreaterThan(0.03);
    await page.locator('#back').click();
    await page.waitForURL(ui.url);
    expect(await page.locator('#chains tr.chain').count()).toBe(2);
  });

  it('trace ui - an unknown path or chain is 404, a malformed chain id 400, and the server goes on', async () => {
    expect((await fetch(`${ui.url}nope`)).status).toBe(404);
    expect((await fetch(`${ui.url}chain/${'0'.repeat(32)}`)).status).toBe(404);
    expect((await fetch(`${ui.url}chain/not-a-chain`)).status).toBe(400);
    expect((await fetch(`${ui.url}chain/${CHAIN.toUpperCase()}`)).status).toBe(400);
    expect((await fetch(`${ui.url}chain/%3Cscript%3E`)).status).toBe(400);
    expect((await fetch(ui.url, { method: 'POST' })).status).toBe(405);
    expect((await fetch(ui.url)).status).toBe(200);
  });

  it('trace ui - close stops listening', async () => {
    const other = await serveTraceUi({ file: join(dir, 'missing.log') });
    const res = await fetch(other.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('id="empty"');
    await other.close();
    await expect(fetch(other.url)).rejects.toThrow();
  });

  it('cli - start --ui without --trace is a usage error (exit 2)', async () => {
    const r = await runAos(['start', '--ui']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--trace');
    expect(r.stdout).toBe('');
    const port = await runAos(['start', '--trace', join(dir, 'x.log'), '--ui', '--ui-port', '70000']);
    expect(port.code).toBe(2);
  });
});
