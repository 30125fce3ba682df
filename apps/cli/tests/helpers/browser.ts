import chromium from '@sparticuz/chromium';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { pathToFileURL } from 'node:url';

/**
 * Headless Chromium from npm (@sparticuz/chromium ships the binary; it extracts to /tmp on the
 * first launch) driven by puppeteer-core: no download, works offline and as root (its default
 * args include --no-sandbox and --no-zygote).
 */
export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: await chromium.executablePath(),
    args: chromium.args,
    headless: true,
    defaultViewport: { width: 1100, height: 900 },
  });
}

/**
 * Closes the pages, then ends the browser process: with @sparticuz/chromium's args
 * (`--single-process`) `browser.close()` can hang (PITFALLS #24), so the process is killed.
 */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  if (!browser) return;
  for (const page of await browser.pages().catch(() => [] as Page[])) await page.close().catch(() => undefined);
  const child = browser.process();
  await browser.disconnect().catch(() => undefined);
  if (child && child.exitCode === null) child.kill('SIGKILL');
}

/** What a visit to a page showed besides the page itself. */
export interface Visit {
  page: Page;
  /** Every request the page made (the file itself first). */
  requests: string[];
  /** Console messages of type error or warning, uncaught page errors, dialogs (alert…). */
  problems: string[];
  /** navigationStart → loadEventEnd, ms. */
  loadMs: number;
}

/** Opens a local HTML file and records its requests, console errors and dialogs. */
export async function visit(browser: Browser, file: string): Promise<Visit> {
  const page = await browser.newPage();
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warn') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${(error as Error).message}`));
  page.on('dialog', (dialog) => {
    problems.push(`dialog ${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss();
  });
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  // Runs in the page (no DOM types in this Node project): the navigation entry's load end.
  const loadMs = await page.evaluate('(() => { const [n] = performance.getEntriesByType("navigation"); return n.loadEventEnd - n.startTime; })()');
  return { page, requests, problems, loadMs: Number(loadMs) };
}
