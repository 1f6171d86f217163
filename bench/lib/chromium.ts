/** Headless Debian Chromium driven by playwright-core, with the flags this closed network needs. */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { serveForBrowser } from './staticServer.js';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * `webgl`: instead of --disable-gpu, WebGL2 on SwiftShader (CPU), for pages that draw. `args`: more
 * flags (a certificate to trust, say).
 */
export function launchChromium(options: { webgl?: boolean; args?: readonly string[] } = {}): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      ...(options.webgl ? ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'] : ['--disable-gpu']),
      ...(options.args ?? []),
      '--disable-quic',
      '--no-first-run',
      // without these Chromium keeps dialing out, and every connection is refused here
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Opens a page whose module script (`moduleSource`) can import the SDK's browser bundle from
 * `/edge-offload-client.js`, as a bundler-less app would, and returns the tab plus how to close
 * everything. Fails loudly, naming the install script, when Chromium is missing.
 */
export async function openSdkPage(moduleSource: string): Promise<{ tab: Page; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: run 'bash scripts/install-chromium.sh' as root (npm test does it)`);
  }
  const site = await serveForBrowser(`<!doctype html>
<script type="module">${moduleSource}</script>`);
  const browser = await launchChromium();
  const close = async () => {
    await browser.close();
    await site.close();
  };
  try {
    const tab = await browser.newPage();
    await tab.goto(site.url);
    return { tab, close };
  } catch (err) {
    await close();
    throw err;
  }
}
