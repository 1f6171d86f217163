/**
 * What the two viewer-page tests share: `edge-offload demo --viewer …` as a process whose viewer
 * URL is read from its stdout, a stop that waits for it to exit, and a wait on the page that says
 * what the page showed when it timed out.
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(here, '../../bin/edge-offload.js');
export const SCREENSHOT_DIR = path.resolve(here, '../../../dist/test-output');

export interface ViewerDemo {
  /** The viewer page's URL, as the demo printed it. */
  pageUrl: URL;
  /** SIGINT (the demo stops its nodes), SIGKILL if it has not exited within 15 s. */
  stop(): Promise<void>;
}

/** Starts the demo with `args` after `demo --viewer` and resolves once it printed the viewer's URL. */
export async function startViewerDemo(args: string[], env?: SpawnOptions['env']): Promise<ViewerDemo> {
  const demo = spawn(process.execPath, [BIN, 'demo', '--viewer', ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...(env ? { env } : {}) });
  let output = '';
  demo.stderr!.on('data', (chunk) => (output = (output + chunk).slice(-4000)));
  const stop = async (): Promise<void> => {
    const exited = new Promise((resolve) => (demo.exitCode !== null || demo.signalCode !== null ? resolve(null) : demo.once('exit', resolve)));
    demo.kill('SIGINT');
    const force = setTimeout(() => demo.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(force);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo printed no viewer URL within 90 s: ${output}`)), 90_000);
      readline.createInterface({ input: demo.stdout! }).on('line', (line) => {
        output = (output + line + '\n').slice(-4000);
        const match = /^viewer: (\S+)/.exec(line);
        if (match) (clearTimeout(timer), resolve(match[1]!));
      });
      demo.once('exit', (code) => (clearTimeout(timer), reject(new Error(`demo exited (${code}): ${output}`))));
    });
    return { pageUrl: new URL(url), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits for `fn` (page script) to be truthy; on timeout the error carries the page's `viewer` state. */
export async function waitForPage<T>(tab: Page, what: string, fn: string, timeoutMs: number): Promise<T> {
  try {
    return (await (await tab.waitForFunction(fn, undefined, { timeout: timeoutMs, polling: 50 })).jsonValue()) as T;
  } catch (err) {
    const state = await tab
      .evaluate('JSON.stringify({ tier: viewer.state.tier, reason: viewer.state.reason, codec: viewer.state.codec, frames: viewer.state.frames, videoFrames: viewer.state.videoFrames, error: viewer.error, status: document.getElementById("status").textContent })')
      .catch(() => '?');
    throw new Error(`${what}: not within ${timeoutMs} ms (${(err as Error).message.split('\n')[0]}); page ${state}`);
  }
}
