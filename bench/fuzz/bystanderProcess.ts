/**
 * The bystander in a process of its own. In the attacker's process it shared an event loop with
 * the load it was meant to observe: a flood's send loop or 2,000 sockets closing at once delayed
 * the bystander's own timers and reads, and that delay was charged to the node (`bench attacks`
 * measured ×13-×26 for attacks 2 and 6 that way). Here only the node and the OS scheduler stand
 * between the bystander and its answers; `cpu` pins it (and the attackers can be pinned apart).
 *
 * Run as a script, this file is the child: `node bystanderProcess.js <url>` starts a Bystander and
 * answers `take` / `stop` over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Bystander, type BystanderWindow } from './bystander.js';
import { pinProcess } from '../lib/pin.js';

type Request = { op: 'take'; settled?: boolean } | { op: 'stop' };
type Reply = { op: 'ready' } | { op: 'failed'; error: string } | { op: 'window'; window: BystanderWindow & { closed: boolean } };

export class BystanderProcess {
  readonly #child: ChildProcess;
  readonly pinned: boolean;

  private constructor(child: ChildProcess, pinned: boolean) {
    this.#child = child;
    this.pinned = pinned;
  }

  /** Starts the child, pinned to `cpu` when given (taskset), and resolves once its session is welcomed. */
  static async start(url: string, options: { cpu?: number } = {}): Promise<BystanderProcess> {
    const child = fork(fileURLToPath(import.meta.url), [url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const reply = await next(child);
    if (reply.op !== 'ready') {
      child.kill('SIGKILL');
      throw new Error(`bystander process: ${reply.op === 'failed' ? reply.error : 'unexpected reply'}`);
    }
    // pinned once started: right after fork its threads come and go, and taskset failed on every
    // run (the bystander ran unpinned); no taskset or no such core: unpinned, and the result says so
    const pinned = options.cpu !== undefined && child.pid !== undefined && pinProcess(child.pid, options.cpu);
    return new BystanderProcess(child, pinned);
  }

  /** What the bystander saw since the last call (`settled`: once the predicts sent before it ended, Bystander.settled). */
  async take(options: { settled?: boolean } = {}): Promise<BystanderWindow & { closed: boolean }> {
    const reply = next(this.#child);
    this.#child.send({ op: 'take', ...(options.settled ? { settled: true } : {}) } satisfies Request);
    const r = await reply;
    if (r.op !== 'window') throw new Error('bystander process: expected a window');
    return r.window;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.send({ op: 'stop' } satisfies Request);
    await exited;
  }
}

/** The child's next reply; rejects if it exits first. */
function next(child: ChildProcess): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`bystander process exited (${code}) before answering`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as Reply);
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send) {
  const reply = (r: Reply) => process.send!(r);
  Bystander.start(process.argv[2]!).then(
    (bystander) => {
      process.on('message', (m: Request) => {
        if (m.op === 'take') void (m.settled ? bystander.settled() : Promise.resolve(bystander.take())).then((window) => reply({ op: 'window', window }));
        else {
          bystander.stop();
          process.disconnect();
        }
      });
      reply({ op: 'ready' });
    },
    (err: Error) => (reply({ op: 'failed', error: err.message }), process.disconnect()),
  );
}
