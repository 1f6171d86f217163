/** `edge-offload edge`: run a node until SIGINT/SIGTERM, then drain its clients and stop. */
import { EdgeServer } from '../../edge-server/index.js';
import { NODE_TIERS, type NodeTier } from '../../protocol/index.js';
import { intFlag, parseCommandArgs, stringFlag } from './args.js';

const HELP = `Usage: edge-offload edge [options]

Runs a node that serves sessions on ws://HOST:PORT/v1/session and GET /healthz.

Options:
  --port N          TCP port (0 picks a free one)              [default: 8765]
  --host ADDR       address to listen on                       [default: 127.0.0.1]
  --node-id ID      stable node id                             [default: random]
  --tier edge|cloud what this node is to clients               [default: edge]
  --drain-ms N      on SIGINT/SIGTERM, how long clients get to move away [default: 2000]
  -h, --help        show this help

On start it prints one JSON line: {"event":"listening","url":…,"port":…,"nodeId":…}.`;

export async function runEdgeCommand(argv: string[]): Promise<void> {
  const args = parseCommandArgs(
    argv,
    { port: { type: 'string' }, host: { type: 'string' }, 'node-id': { type: 'string' }, tier: { type: 'string' }, 'drain-ms': { type: 'string' } },
    HELP,
  );
  if (!args) return;
  const tier = (stringFlag(args.values.tier) ?? 'edge') as NodeTier;
  if (!NODE_TIERS.includes(tier)) throw new Error(`--tier must be edge or cloud, got '${tier}'`);
  const drainMs = intFlag(args.values['drain-ms'], 'drain-ms', 0, 600_000) ?? 2000;
  const server = new EdgeServer({
    port: intFlag(args.values.port, 'port') ?? 8765,
    host: stringFlag(args.values.host) ?? '127.0.0.1',
    nodeId: stringFlag(args.values['node-id']),
    tier,
  });
  const { port, url } = await server.listen();
  console.log(JSON.stringify({ event: 'listening', url, port, nodeId: server.nodeId, tier }));
  const stop = async (signal: string) => {
    console.log(JSON.stringify({ event: 'draining', signal, sessions: server.sessionCount, deadlineMs: drainMs }));
    await server.close({ deadlineMs: drainMs, reason: `node stopping (${signal})` });
    console.log(JSON.stringify({ event: 'stopped' }));
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}
