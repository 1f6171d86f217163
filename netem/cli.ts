/**
 * `edge-offload netem`: run the emulator standalone in front of a node, e.g. to put a local
 * "cloud" 60 ms away while trying the demo. Runs until SIGINT/SIGTERM.
 */
import { parseArgs } from 'node:util';
import { startNetemProxy, type CutMode } from './NetemProxy.js';
import { startUdpNetemProxy } from './UdpNetemProxy.js';

const HELP = `Usage: edge-offload netem --target HOST:PORT [options]
       edge-offload netem --udp --target HOST:PORT [options]

A user-space network emulator: a TCP proxy on loopback that delays, jitters, stalls and
rate-limits every connection to TARGET (WebSocket included). Prints the listening URL.
With --udp it is a datagram proxy instead (WebRTC: ICE, DTLS, SCTP, RTP): lost datagrams are
dropped, jitter may reorder them, and a full bottleneck queue drops arrivals. Point the peer at
the printed address (for WebRTC, rewrite the target's ICE candidate to it).

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
  --udp                  proxy UDP datagrams instead of TCP connections
  --up-bandwidth B/S     --udp: client -> target cap, overrides --bandwidth
  --down-bandwidth B/S   --udp: target -> client cap, overrides --bandwidth
  --queue BYTES          --udp: bottleneck queue per direction before tail drop, default 256k
  -h, --help             this text

Examples:
  edge-offload netem --target 127.0.0.1:8080 --rtt 60 --jitter 5
  edge-offload netem --udp --target 127.0.0.1:40000 --delay 5 --loss 0.02 --bandwidth 1.25m
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
        udp: { type: 'boolean' },
        'up-bandwidth': { type: 'string' },
        'down-bandwidth': { type: 'string' },
        queue: { type: 'string' },
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
  const common = {
    target: { host: target[1]!.replace(/^\[|\]$/g, ''), port: Number(target[2]) },
    port: num(values.port, '--port'),
    host: values.host,
    delayMs: delay,
    jitterMs: num(values.jitter, '--jitter'),
    lossRate: num(values.loss, '--loss'),
    bandwidthBytesPerS: num(values.bandwidth, '--bandwidth'),
  };
  const udpOnly = (['up-bandwidth', 'down-bandwidth', 'queue'] as const).filter((flag) => values[flag] !== undefined);
  if (!values.udp && udpOnly.length > 0) throw new TypeError(`--${udpOnly[0]} needs --udp; see 'edge-offload netem --help'`);
  if (values.udp) {
    if (values['loss-stall'] !== undefined) throw new TypeError('--loss-stall is for TCP; with --udp a lost datagram is dropped');
    return runUdp(common, values, cut, out);
  }
  const proxy = await startNetemProxy({ ...common, lossStallMs: num(values['loss-stall'], '--loss-stall') });
  if (cut) proxy.cut(cut);
  out.write(`netem listening on ${proxy.url} -> ${values.target} ${JSON.stringify(proxy.params)}${cut ? ` (cut: ${cut})` : ''}\n`);
  const restore = () => { proxy.restore(); out.write('netem: link restored\n'); };
  const recut = () => { proxy.cut(cut ?? 'reset'); out.write('netem: link cut\n'); };
  await untilStopped(restore, recut);
  const stats = proxy.stats;
  await proxy.close();
  out.write(`netem stopped: ${stats.connections} connections, ${stats.bytesUp} bytes up, ${stats.bytesDown} bytes down\n`);
}

/** Resolves on SIGINT/SIGTERM, calling `restore`/`recut` on SIGUSR1/SIGUSR2 meanwhile. */
async function untilStopped(restore: () => void, recut: () => void): Promise<void> {
  process.on('SIGUSR1', restore);
  process.on('SIGUSR2', recut);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  process.off('SIGUSR1', restore);
  process.off('SIGUSR2', recut);
}

async function runUdp(
  common: Parameters<typeof startUdpNetemProxy>[0],
  values: Record<string, string | boolean | undefined>,
  cut: CutMode | undefined,
  out: NodeJS.WritableStream,
): Promise<void> {
  const up = num(values['up-bandwidth'] as string | undefined, '--up-bandwidth');
  const down = num(values['down-bandwidth'] as string | undefined, '--down-bandwidth');
  const proxy = await startUdpNetemProxy({
    ...common,
    up: up === undefined ? undefined : { bandwidthBytesPerS: up },
    down: down === undefined ? undefined : { bandwidthBytesPerS: down },
    maxQueuedBytes: num(values.queue as string | undefined, '--queue'),
  });
  if (cut) proxy.cutLink();
  out.write(`netem (udp) listening on ${proxy.host}:${proxy.port} -> ${common.target.host}:${common.target.port} ${JSON.stringify(proxy.params)}${cut ? ' (cut)' : ''}\n`);
  await untilStopped(
    () => { proxy.restore(); out.write('netem: link restored\n'); },
    () => { proxy.cutLink(); out.write('netem: link cut\n'); },
  );
  const stats = proxy.stats;
  await proxy.close();
  out.write(`netem stopped: ${stats.clients} clients, ${stats.datagramsUp} datagrams up (${stats.droppedUp} dropped), ${stats.datagramsDown} down (${stats.droppedDown} dropped)\n`);
}
