#!/usr/bin/env node
/**
 * edge-offload CLI: one binary, a subcommand per role. Each subcommand parses its own flags and
 * has its own --help.
 */
import { runDemoCommand } from './commands/demo.js';
import { runEdgeCommand } from './commands/edge.js';
import { runBenchCommand } from './commands/bench.js';
import { runDiscoveryCommand } from '../discovery/cli.js';

const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; summary: string }> = {
  demo: { run: runDemoCommand, summary: 'discovery + edge + cloud nodes + a simulated headset, printing live latency through failovers' },
  edge: { run: runEdgeCommand, summary: 'run an edge (or cloud) node serving sessions over WebSocket' },
  discovery: {
    run: async (argv) => {
      process.exitCode = await runDiscoveryCommand(argv);
    },
    summary: 'run the discovery service (memory or Redis); `discovery keygen` makes operator/node keys',
  },
  netem: {
    // loaded only when asked for
    run: async (argv) => (await import('../netem/cli.js')).runNetemCommand(argv),
    summary: 'user-space network emulator: a TCP proxy adding delay, jitter, loss stalls, bandwidth caps',
  },
  admin: { run: async (argv) => (await import('./commands/admin.js')).runAdminCommand(argv), summary: 'operator-signed calls to a node: detailed health, drain' },
  bench: { run: runBenchCommand, summary: 'run a benchmark (overhead, …); results go to bench/results/' },
};

const USAGE = `Usage: edge-offload <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`)
  .join('\n')}

Run 'edge-offload <command> --help' for a command's options.`;

const [command, ...rest] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h' || command === 'help') {
  console.log(USAGE);
} else if (!COMMANDS[command]) {
  console.error(`edge-offload: unknown command '${command}'\n\n${USAGE}`);
  process.exitCode = 2;
} else {
  COMMANDS[command].run(rest).catch((err: unknown) => {
    console.error(`edge-offload ${command}: ${err instanceof Error ? err.message : String(err)}`);
    // a failed command may leave sockets or timers behind; do not hang on them
    process.exit(1);
  });
}
