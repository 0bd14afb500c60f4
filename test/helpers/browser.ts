import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { onTestFinished } from 'vitest';

/** Debian's chromium package; never a browser download. */
export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOTS = join(process.cwd(), '.test-runs', 'screenshots');

/** Headless Chromium with a fresh profile under `dir`, closed (and so stopped) when the test ends. */
export async function openBrowser(dir: string): Promise<{ context: BrowserContext; page: Page }> {
  const profile = join(dir, 'chromium-profile');
  mkdirSync(profile, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  onTestFinished(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
