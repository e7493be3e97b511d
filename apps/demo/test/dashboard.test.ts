import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../src/demo.ts';

// The dashboard in a real browser (Debian's chromium, headless) against the real stack.
const executablePath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  throw new Error(`the dashboard test needs chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
}

let demo: Demo;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];

beforeAll(async () => {
  demo = await startDemo({ port: 0, rate: 8 });
  browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(error.message));
}, 150_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
}, 30_000);

const breaker = (instance: string) => page.locator(`[data-breaker="${instance}"]`).first();

describe('the dashboard', () => {
  it('loads, shows the live stack, opens a breaker on a fault and closes it once the fault is cleared', async () => {
    await page.goto(demo.url);
    await expect.poll(() => page.locator('#connection').textContent(), { timeout: 10_000 }).toMatch(/live/i);
    // The picture shows every instance, and the order service's breakers start closed.
    for (const id of ['user-1', 'order-1', 'payment-1', 'payment-2']) {
      await expect.poll(() => page.getByText(id, { exact: true }).count(), { timeout: 10_000 }).toBeGreaterThan(0);
    }
    await expect.poll(() => breaker('payment-1').textContent(), { timeout: 15_000 }).toBe('closed');
    await expect.poll(() => breaker('payment-2').textContent(), { timeout: 15_000 }).toBe('closed');

    // Break payment from the page.
    await page.locator('button[data-action="failing-payment"]').click();
    await expect
      .poll(async () => [await breaker('payment-1').textContent(), await breaker('payment-2').textContent()], { timeout: 20_000 })
      .toContain('open');
    // An open breaker says why it opened, how long its break is, and when it is probed next.
    await expect.poll(() => page.locator('.next-probe').first().textContent(), { timeout: 20_000 }).toMatch(/break \d+(\.\d)? s.*next probe ≤ /);
    // The order service stays up and keeps accepting orders (as pending payment).
    const order = demo.collector.state.instances.find((i) => i.id === 'order-1');
    expect(order?.status).toBe('up');
    await expect.poll(() => demo.collector.state.orders['pending_payment'] ?? 0, { timeout: 10_000 }).toBeGreaterThan(0);

    // Two more faults in a row, each cleared once a breaker opened: the breaks grow...
    const bothClosed = async (timeout: number): Promise<number> => {
      const cleared = Date.now();
      await expect
        .poll(async () => [await breaker('payment-1').textContent(), await breaker('payment-2').textContent()], { timeout, interval: 250 })
        .toEqual(['closed', 'closed']);
      return Date.now() - cleared;
    };
    for (let round = 0; round < 2; round++) {
      await page.locator('button[data-action="clear"]').click();
      await bothClosed(45_000);
      await page.locator('button[data-action="failing-payment"]').click();
      await expect
        .poll(async () => [await breaker('payment-1').textContent(), await breaker('payment-2').textContent()], { timeout: 20_000 })
        .toContain('open');
    }
    // ...and yet after the third, Clear faults closes both within seconds: the health checks end
    // the grown breaks as soon as payment answers again (a generous bound: CI is loaded).
    await page.locator('button[data-action="clear"]').click();
    const ms = await bothClosed(15_000);
    console.log(`  after three faults in a row, both payment breakers closed ${ms} ms after Clear faults (as the page saw it)`);
    await expect.poll(() => page.locator('#duplicates').textContent(), { timeout: 5_000 }).toBe('0');
    expect(consoleErrors).toEqual([]);
  }, 120_000);
});
