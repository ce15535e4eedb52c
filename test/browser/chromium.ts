/// <reference lib="dom.iterable" />
/// <reference lib="dom" />
// Debian's Chromium driven by playwright-core (no browser download). Where no Chromium is installed the
// browser suite is skipped with this message; `.ci/run` installs it first (scripts/setup-chromium.sh).
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { mailedSignInCode, type Stack } from '../support/stack.js';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const chromiumMissing = existsSync(chromiumPath)
  ? undefined
  : `No Chromium at ${chromiumPath}: run scripts/setup-chromium.sh (Debian: apt-get install chromium) or set CHROMIUM_PATH.`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    // Background networking would try Google's hosts, which a closed network refuses at every start.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Where the tests leave screenshots of the main screens (the README shows copies from docs/screenshots). */
export const screenshotDir = 'test-results/console';

/** The whole page, or one section of it. */
export async function screenshot(page: Page, name: string, section?: string): Promise<void> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = `${screenshotDir}/${name}.png`;
  if (section) await page.locator(section).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
}

/** A person signs in as they would: the console's Sign in link, the login page, the code from the mail. */
export async function signInThroughPage(page: Page, stack: Stack, email: string): Promise<void> {
  await page.goto(`${stack.url}/console`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await page.getByLabel('Work e-mail').fill(email);
  const code = await mailedSignInCode(stack.mail, email, () =>
    page.getByRole('button', { name: 'Continue' }).click(),
  );
  await page.getByLabel('Sign-in code').fill(code);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Identity settings' }).waitFor();
}

/** Every form control of the page has a label a screen reader announces. */
export function unlabelledControls(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
      .filter((element) => {
        const control = element as HTMLInputElement;
        const named =
          control.labels?.length || control.getAttribute('aria-label') || control.textContent?.trim();
        return !named;
      })
      .map((element) => element.outerHTML.slice(0, 120)),
  );
}
