/**
 * The processes of `bench wake-latency` (bench/wake-latency.ts), one role each, started pinned
 * (`taskset -c`) by the bench: `node roles.js <role> …`.
 *
 * - `sleeper <samples>`: a UDP socket on loopback (its port on the first line of stdout); each
 *   datagram carries the waker's CLOCK_MONOTONIC stamp, and the sleeper keeps now − stamp: how
 *   long a woken task took to run (the kernel's wake-up, the wait for its core, libuv's turn).
 *   After `samples` it prints `{"latencyUs":[…]}` and exits.
 * - `waker <port> <samples>`: one stamp every 1-6 ms (uniform), from the other core.
 * - `neighbour <spin|send> <sinkPort>`: busy a quarter of the time (1 ms of work, then a 3 ms
 *   sleep), as a one-core replica's channel process is under bench scale's churn (~25 % of the
 *   core). Its work is a user-mode loop (`spin`) or 200-byte writes round 32 loopback TCP
 *   connections to the sink (`send`: a syscall each, the TCP receive of the other end included,
 *   as the channel process's pings and Redis writes are).
 * - `sink`: a TCP server on loopback that reads and drops (its port on stdout).
 */
import { createSocket } from 'node:dgram';
import { connect, createServer, type Socket } from 'node:net';

const [role, ...args] = process.argv.slice(2);
const stamp = () => process.hrtime.bigint(); // CLOCK_MONOTONIC: comparable across processes

if (role === 'sleeper') {
  const samples = Number(args[0]);
  const latencyUs: number[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (m) => {
    latencyUs.push(Number(stamp() - m.readBigUInt64LE(0)) / 1000);
    if (latencyUs.length === samples) {
      socket.close();
      process.stdout.write(JSON.stringify({ latencyUs }) + '\n');
    }
  });
  socket.bind(0, '127.0.0.1', () => console.log(socket.address().port));
} else if (role === 'waker') {
  const [port, samples] = args.map(Number) as [number, number];
  const socket = createSocket('udp4');
  const buf = Buffer.alloc(8);
  let sent = 0;
  const next = () => {
    if (sent++ === samples) return socket.close();
    setTimeout(() => {
      buf.writeBigUInt64LE(stamp(), 0);
      socket.send(buf, port, '127.0.0.1', next);
    }, 1 + 5 * Math.random());
  };
  next();
} else if (role === 'neighbour') {
  const [work, sinkPort] = args as [string, string];
  const sockets: Socket[] = work === 'send' ? Array.from({ length: 32 }, () => connect(Number(sinkPort), '127.0.0.1')) : [];
  const payload = Buffer.alloc(200, 120);
  let i = 0;
  const busy = () => {
    const until = performance.now() + 1;
    if (work === 'spin') while (performance.now() < until);
    // a socket whose buffer is full queues in user space (no syscall): skip it this turn
    else while (performance.now() < until) {
      const s = sockets[i++ % sockets.length]!;
      if (s.writableLength === 0) s.write(payload);
    }
    setTimeout(busy, 3);
  };
  busy();
} else if (role === 'sink') {
  const server = createServer((s) => s.on('data', () => {}).on('error', () => {}));
  server.listen(0, '127.0.0.1', () => console.log((server.address() as { port: number }).port));
} else {
  console.error(`bench/wake/roles.js: no role '${role}' (sleeper, waker, neighbour, sink)`);
  process.exit(2);
}
