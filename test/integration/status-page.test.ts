/**
 * The status page in a real browser (Debian's headless Chromium through playwright-core) against a
 * real daemon fed by tablestore-local, with its lake on the OSS emulator: the page shows the table,
 * its figures move as rows land, an error appears when the lake refuses writes (OSS answering 403)
 * and clears when it accepts them again; it loads nothing from another origin, shows no credential,
 * and fits a phone's width. OTSLAKE_STATUS_PAGE_SCREENSHOT=docs/status-page.png keeps a screenshot.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OssEmulator } from '../../emulator/oss/server.js';
import { createHarness, waitForEvent, type Harness, type RunningDaemon } from '../helpers/daemon-harness.js';
import { TEST_CREDENTIALS as TS_CREDENTIALS } from '../helpers/emulator.js';
import { chromiumTool, launchChromium } from '../helpers/external-tools.js';
import { startTestOss, TEST_CREDENTIALS as OSS_CREDENTIALS } from '../helpers/oss.js';

const chromium = chromiumTool();
const SECRETS = [TS_CREDENTIALS.accessKeySecret, TS_CREDENTIALS.accessKeyId, OSS_CREDENTIALS.accessKeySecret, OSS_CREDENTIALS.accessKeyId];

let h: Harness | undefined;
let oss: OssEmulator | undefined;
let browser: Browser | undefined;
let running: RunningDaemon | undefined;

beforeAll(async () => {
  if (chromium.path === null) return;
  browser = await launchChromium(chromium.path);
});

afterAll(async () => {
  await browser?.close();
  await h?.close();
  await oss?.close();
});

/** The text of one figure of a table's section. */
async function field(page: Page, table: string, name: string): Promise<string> {
  return (await page.locator(`section[data-table="${table}"] [data-field="${name}"]`).first().textContent()) ?? '';
}

async function waitForField(page: Page, table: string, name: string, accept: (text: string) => boolean, what: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await field(page, table, name).catch(() => '');
    if (accept(text)) return text;
    // The page re-renders on each poll: wait for the next render instead of a fixed sleep.
    const before = (await page.locator('#updated').getAttribute('datetime')) ?? '';
    await page.locator(`#updated[datetime]:not([datetime="${before}"])`).waitFor({ timeout: 5_000 });
  }
  throw new Error(`status page: ${what} not seen within ${timeoutMs} ms (field ${name} reads "${text}")`);
}

const asNumber = (text: string) => Number(text.replace(/[^0-9.]/g, ''));

describe.skipIf(chromium.path === null)(`status page in headless Chromium ${chromium.path === null ? `(${chromium.skipReason})` : ''}`, () => {
  it('shows the table, follows rows as they land, shows an error while the lake refuses writes and its recovery, without secrets', async () => {
    oss = await startTestOss('otslake-status');
    h = await createHarness();
    for (let id = 1; id <= 6; id++) await h.putRow(id, `order-${id}`, id);
    const config = h.config({
      lake: { uri: 'oss://otslake-status/lake', oss: { endpoint: oss.endpoint, ...OSS_CREDENTIALS } },
      http: { host: '127.0.0.1', port: 0 },
    });
    running = h.start({ config, http: true });
    const { daemon } = running;
    await waitForEvent(daemon, 'idle', 30_000);
    const url = daemon.httpAddress!.url;

    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(url) && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    const consoleErrors: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    await page.goto(`${url}/`);

    expect(await page.locator('h1').count()).toBe(1);
    await waitForField(page, 'orders', 'rows', (t) => asNumber(t) === 6, '6 rows landed');
    expect(await page.locator('section[data-table="orders"] h2').textContent()).toContain('orders');
    expect(await field(page, 'orders', 'mode')).toBe('changelog');
    expect(await field(page, 'orders', 'state')).toBe('caught up');
    // The lag against the Tunnel's stream retention: a caught-up table uses none of it.
    expect(await field(page, 'orders', 'retention')).toMatch(/^0 % of \d+(\.\d)? [a-z]+$/);
    expect(await page.locator('section[data-table="orders"] [data-field="retention"]').getAttribute('data-level')).toBe('ok');
    const versionBefore = asNumber(await field(page, 'orders', 'lake-version'));
    expect(versionBefore).toBeGreaterThan(0);
    expect(await page.locator('section[data-table="orders"] table').first().locator('tbody tr').count()).toBeGreaterThan(0);
    expect(await page.locator('svg.chart[role="img"]').count()).toBe(2);

    // Rows land: the figures follow without a reload.
    for (let id = 7; id <= 26; id++) await h.putRow(id, `order-${id}`, id);
    await waitForField(page, 'orders', 'rows', (t) => asNumber(t) === 26, '26 rows landed');
    expect(asNumber(await field(page, 'orders', 'lake-version'))).toBeGreaterThan(versionBefore);
    expect(asNumber(await field(page, 'orders', 'commits'))).toBeGreaterThanOrEqual(2);
    expect(await page.locator('svg.chart path.rows').count()).toBe(1);

    // The lake refuses every write: the page says the table fails, with the error's code.
    oss.faults.inject({ kind: 'error', status: 403, code: 'AccessDenied', method: 'PUT', times: 1_000_000 });
    await h.putRow(27, 'order-27', 27);
    await waitForField(page, 'orders', 'state', (t) => t === 'failing', 'the failing state');
    const alert = page.locator('section[data-table="orders"] [data-field="last-error"][role="alert"]');
    await expect(alert.count()).resolves.toBe(1);
    expect(await alert.textContent()).toMatch(/OTSL_[A-Z_]+/);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('otslake_table_state{table="orders",state="failing"} 1');
    expect(metrics).toMatch(/otslake_batch_failures_total\{table="orders"\} [1-9]/);

    const shot = process.env.OTSLAKE_STATUS_PAGE_SCREENSHOT ?? join(h.lake.path, 'status-page.png');
    await mkdir(dirname(shot), { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });

    // Writes accepted again: the row lands and the error is shown as recovered.
    oss.faults.clear();
    await waitForField(page, 'orders', 'rows', (t) => asNumber(t) === 27, 'the 27th row after recovery');
    await waitForField(page, 'orders', 'state', (t) => t !== 'failing', 'recovery from failing');
    expect(await page.locator('section[data-table="orders"] [data-field="last-error"]').textContent()).toContain('recovered');

    // No credential anywhere: the rendered page, its files and its data endpoint.
    const texts = [await page.content()];
    for (const path of ['/', '/status-page.js', '/status-page.css', '/status/live']) texts.push(await (await fetch(`${url}${path}`)).text());
    for (const text of texts) for (const secret of SECRETS) expect(text).not.toContain(secret);
    expect(foreign).toEqual([]);
    expect(consoleErrors).toEqual([]);

    // A phone's width: nothing wider than the screen but the tables' own scroll areas.
    await page.setViewportSize({ width: 375, height: 800 });
    expect(
      await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth),
    ).toBeLessThanOrEqual(375);
    await page.close();
    await running.stop();
  }, 120_000);
});
