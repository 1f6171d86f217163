/**
 * `edge-offload netem`: run the emulator standalone in front of a node, e.g. to put a local
 * "cloud" 60 ms away while trying the demo. Runs until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startNetemProxy, type CutMode } from './NetemProxy.js';

const HELP = `Usage: edge-offload netem --target HOST:PORT [options]

A user-space network emulator: a TCP proxy on loopback that delays, jitters, stalls and
rate-limits every connection to TARGET (WebSocket included). Prints the listening URL.

Options:
  --target HOST:PORT     where connections go (loopback only), required
  --port N               port to listen on (default 0: any free port)
  --host ADDR            loopback address to listen on (default 127.0.0.1)
  --delay MS             one-way delay per direction (RTT ≈ 2 × MS), default 0
  --rtt MS               shorthand for --delay MS/2
  --jitter MS            extra uniform delay in [0, MS) per chunk, never reorders bytes, default 0
  --loss P               probability a chunk stalls as if retransmitted, default 0
  --loss-stall MS        length of one such stall, default 200 (Linux minimum RTO)
  --bandwidth BYTES/S    per direction, default unlimited (suffixes k, m: 10m = 10 MB/s)
  --cut reset|blackhole  start with the link cut (then SIGUSR1 restores, SIGUSR2 cuts again)
  -h, --help             this text

Example:
  edge-offload netem --target 127.0.0.1:8080 --rtt 60 --jitter 5
`;

function num(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(value.trim());
  if (!m) throw new TypeError(`${flag} expects a number, got ${JSON.stringify(value)}`);
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * scale;
}

/**
 * Runs until SIGINT/SIGTERM. Bad usage throws an Error whose message says what to do (the CLI
 * prints it and exits non-zero), like the other subcommands.
 */
export async function runNetemCommand(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        target: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        delay: { type: 'string' },
        rtt: { type: 'string' },
        jitter: { type: 'string' },
        loss: { type: 'string' },
        'loss-stall': { type: 'string' },
        bandwidth: { type: 'string' },
        cut: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new Error(`${(err as Error).message}; run 'edge-offload netem --help' for usage`);
  }
  if (values.help) {
    out.write(HELP);
    return;
  }
  const target = values.target ? /^(.*):(\d+)$/.exec(values.target) : null;
  if (!target) throw new TypeError("--target HOST:PORT is required (e.g. --target 127.0.0.1:8080); see 'edge-offload netem --help'");
  const rtt = num(values.rtt, '--rtt');
  const delay = num(values.delay, '--delay') ?? (rtt !== undefined ? rtt / 2 : undefined);
  const cut = values.cut as CutMode | undefined;
  if (cut !== undefined && cut !== 'reset' && cut !== 'blackhole') throw new TypeError('--cut expects reset or blackhole');
  const proxy = await startNetemProxy({
    target: { host: target[1]!.replace(/^\[|\]$/g, ''), port: Number(target[2]) },
    port: num(values.port, '--port'),
    host: values.host,
    delayMs: delay,
    jitterMs: num(values.jitter, '--jitter'),
    lossRate: num(values.loss, '--loss'),
    lossStallMs: num(values['loss-stall'], '--loss-stall'),
    bandwidthBytesPerS: num(values.bandwidth, '--bandwidth'),
  });
  if (cut) proxy.cut(cut);
  out.write(`netem listening on ${proxy.url} -> ${values.target} ${JSON.stringify(proxy.params)}${cut ? ` (cut: ${cut})` : ''}\n`);
  const restore = () => { proxy.restore(); out.write('netem: link restored\n'); };
  const recut = () => { proxy.cut(cut ?? 'reset'); out.write('netem: link cut\n'); };
  process.on('SIGUSR1', restore);
  process.on('SIGUSR2', recut);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.off('SIGUSR1', restore);
  process.off('SIGUSR2', recut);
  const stats = proxy.stats;
  await proxy.close();
  out.write(`netem stopped: ${stats.connections} connections, ${stats.bytesUp} bytes up, ${stats.bytesDown} bytes down\n`);
}
