import { existsSync, statSync } from 'node:fs';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runDrill } from '../../cli/drill/run-drill.js';
import { startFeedServer } from '../../shared/feed/index.js';
import { silentLogger } from '../../shared/log.js';
import { openBrowser, screenshot } from '../helpers/browser.js';
import { setupPair } from '../helpers/pair.js';
import { tmpRun } from '../helpers/tmp-run.js';

describe('dashboard page in headless Chromium (Debian package)', () => {
  it('renders the protected pair, then shows the failover live without a reload', async () => {
    const dir = tmpRun('dashboard');
    const pair = await setupPair(dir);
    // The read-only login, as `serve` has it; the drill below goes with the operator's (pair.client).
    const server = await startFeedServer({ bus: pair.dashboard, config: pair.dashboardConfig, log: silentLogger() });
    onTestFinished(() => server.close());
    const { page } = await openBrowser(dir);
    const failures: string[] = [];
    page.on('pageerror', (e) => failures.push(e.message));
    page.on('requestfailed', (r) => failures.push(`request failed: ${r.url()}`));
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url)) failures.push(`off-site request: ${r.url()}`);
    });
    await page.goto(server.url);
    await page.locator('#empty').waitFor({ state: 'visible' });
    await pair.startAgent('alpha');
    await pair.startAgent('beta');

    const card = page.locator('article.vm[data-key="test/vm1"]');
    await card.and(page.locator('[data-state="protected"]')).waitFor({ timeout: 60_000 });
    // The live pause chart: a hand-drawn SVG polyline of the sampled pauses.
    await expect.poll(async () => ((await card.locator('.chart polyline').getAttribute('points', { timeout: 20_000 })) ?? '').split(' ').length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(await card.locator('.chart-label').textContent()).toMatch(/checkpoint pauses: last [\d.]+ ms/);
    expect(await card.locator('.badge').textContent()).toBe('PROTECTED');
    expect(await card.locator('.pause-stats').textContent()).toMatch(/^pause p50 [\d.]+ ms, p99 [\d.]+ ms, stopped [\d.]+ % of the last minute$/);
    const nodes = await card.locator('.nodes li').allTextContents();
    expect(nodes[0]).toMatch(/^alpha primary coloRunning/);
    expect(nodes[1]).toMatch(/^beta secondary coloRunning/);
    // The COLO role in plain words, not qemu's raw run state (a healthy secondary is "paused" to qemu).
    expect(nodes[0]).toContain('COLO primary: serving, replicated to the secondary');
    expect(nodes[1]).toContain('COLO secondary: following the primary');
    expect(nodes.join('\n')).not.toMatch(/qemu (paused|colo)/);
    expect(await card.locator('.figures.stale').count()).toBe(0);
    // Each node's audit of qemu's block graph, per disk.
    expect(await card.locator('.nodes .disk.repl-replicating').allTextContents()).toEqual(['disk 0: replicating', 'disk 0: replicating']);
    const epochBefore = Number(await card.locator('.epoch-value').textContent());
    expect(await card.locator('.reason').textContent()).toMatch(/COLO running/);
    expect(await page.locator('#conn').getAttribute('data-state')).toBe('live');
    expect(await page.locator('#summary').textContent()).toContain('1 VMs · 1 protected');
    const protectedShot = await screenshot(page, 'dashboard-protected');

    // Filterable by state and name (while the pair is steadily protected).
    await page.selectOption('#state-filter', 'problem');
    await expect.poll(() => page.locator('article.vm').count()).toBe(0);
    await page.selectOption('#state-filter', 'protected');
    await expect.poll(() => page.locator('article.vm').count()).toBe(1);
    await page.fill('#search', 'no-such-vm');
    await expect.poll(() => page.locator('article.vm').count()).toBe(0);
    await page.fill('#search', 'test/vm');
    await expect.poll(() => page.locator('article.vm').count()).toBe(1);
    await page.selectOption('#state-filter', 'all');

    // Mark the page: if the update came through a reload, the mark would be gone.
    await page.evaluate(() => ((window as unknown as { liveMark: number }).liveMark = 42));
    // What the card shows on the way (unprotected, resyncing) may last only a moment: record it as it happens.
    await page.evaluate(() => {
      const seen = ((window as unknown as { seen: { stale: string[]; resync: string[] } }).seen = { stale: [], resync: [] });
      new MutationObserver(() => {
        const stale = document.querySelector('article.vm .figures.stale');
        if (stale) seen.stale.push(stale.textContent ?? '');
        const resync = document.querySelector('article.vm .resync');
        if (resync) seen.resync.push(resync.textContent ?? '');
      }).observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const report = await runDrill(pair.client, pair.config, { vm: 'vm1', fail: 'primary', mode: 'crash' });
    // The feed is under test, not the drill's data check: a takeover with a new epoch is what must show.
    expect(report.takeoverMs, report.reason).not.toBeNull();
    expect(report.epochAfter, report.reason).toBeGreaterThan(report.epochBefore);

    await card.locator('.timeline .ev-takeover-done').waitFor({ timeout: 30_000 });
    await expect.poll(async () => Number(await card.locator('.epoch-value').textContent()), { timeout: 10_000 }).toBe(report.epochAfter);
    expect(report.epochAfter).toBeGreaterThan(epochBefore);
    // (The restore may already be bringing alpha back, so the badge is not asserted here: the takeover is.)
    expect(await card.locator('.failover').textContent()).toMatch(/^took over on beta at /);
    // Said as what happened to the peer, not in qemu's wording.
    expect(await card.locator('.failover').textContent()).toMatch(/: (alpha's qemu died|the COLO stream with alpha broke|alpha went silent \(no heartbeat\))$/);
    expect(await card.locator('.failover').textContent()).not.toMatch(/reason error|qemu left COLO/);
    // The timeline wraps inside the card instead of being clipped at its edge.
    expect(await card.locator('.timeline').evaluate((el) => el.scrollWidth <= el.clientWidth)).toBe(true);
    await expect.poll(async () => (await card.locator('.nodes li').allTextContents()).join('\n'), { timeout: 10_000 }).toMatch(/beta primary/);
    expect(await card.locator('.timeline').textContent()).toMatch(/failover-started/);
    expect(await page.evaluate(() => (window as unknown as { liveMark?: number }).liveMark)).toBe(42);
    const seenNow = () => page.evaluate(() => (window as unknown as { seen: { stale: string[]; resync: string[] } }).seen);
    // Unprotected, the last checkpoint figures were greyed with their age; the automatic restore's
    // resync line (it starts a moment after the takeover) says "resync" once.
    expect((await seenNow()).stale.some((t) => /last checkpoint \d+ s ago/.test(t))).toBe(true);
    await expect.poll(async () => (await seenNow()).resync.length, { timeout: 30_000 }).toBeGreaterThan(0);
    expect((await seenNow()).resync.some((t) => /resync resync/.test(t))).toBe(false);
    const failoverShot = await screenshot(page, 'dashboard-failover');

    expect(failures).toEqual([]);
    for (const shot of [protectedShot, failoverShot]) expect(existsSync(shot) && statSync(shot).size > 10_000).toBe(true);
  });
});
