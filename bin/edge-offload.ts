#!/usr/bin/env node
/**
 * edge-offload CLI: one binary, a subcommand per role. Each subcommand parses its own flags and
 * has its own --help.
 */
// each command is loaded only when asked for: `--help` or `edge` never loads what `discovery` needs
const COMMANDS: Record<string, { run: (argv: string[]) => Promise<void>; summary: string }> = {
  demo: {
    run: async (argv) => (await import('./commands/demo.js')).runDemoCommand(argv),
    summary: 'discovery + edge + cloud nodes + a simulated headset, printing live latency through failovers',
  },
  edge: {
    run: async (argv) => {
      // --gc single|auto (edge-server/gcThreads.ts): the node is started again with --single-threaded-gc
      const relaunched = await (await import('../edge-server/gcThreads.js')).relaunchForGc(argv);
      if (relaunched !== undefined) {
        process.exitCode = relaunched;
        return;
      }
      await (await import('./commands/edge.js')).runEdgeCommand(argv);
    },
    summary: 'run an edge (or cloud) node serving sessions over WebSocket',
  },
  discovery: {
    run: async (argv) => {
      // the replica's V8 flags (--young-gen-mib, --gc: discovery/youngGeneration.ts, gcThreads.ts): started again with them
      const relaunched = await (await import('../discovery/youngGeneration.js')).relaunchWithYoungGeneration(argv);
      if (relaunched !== undefined) {
        process.exitCode = relaunched;
        return;
      }
      const { runDiscoveryCommand } = await import('../discovery/cli.js');
      process.exitCode = await runDiscoveryCommand(argv, {
        loadInferReference: async () => (await import('./discoveryInfer.js')).loadInferReference(),
        loadRenderReference: async () => (await import('./discoveryRender.js')).loadRenderReference(),
      });
    },
    summary: 'run the discovery service (memory or Redis); `discovery keygen` makes operator/node keys',
  },
  netem: {
    run: async (argv) => (await import('../netem/cli.js')).runNetemCommand(argv),
    summary: 'user-space network emulator: a TCP (or --udp datagram) proxy adding delay, jitter, loss, bandwidth caps',
  },
  admin: { run: async (argv) => (await import('./commands/admin.js')).runAdminCommand(argv), summary: 'operator-signed calls to a node: detailed health, drain' },
  measure: { run: async (argv) => (await import('./commands/measure.js')).runMeasureCommand(argv), summary: 'measure latency of running nodes or a discovery service (table, JSON, SVG, --assert)' },
  audit: { run: async (argv) => (await import('./commands/audit.js')).runAuditCommand(argv), summary: 'verify a stake-ledger audit log offline: `audit verify <file>`' },
};

/**
 * Benches are tooling, not part of the installed package: they need the repository (fixtures,
 * traces, results folder). Say where they live instead of failing with "unknown command".
 */
const BENCH_MOVED = `edge-offload: benchmarks are not part of the installed package.
From a clone of the edge-offload repository run:
  npm install && npm run bench -- --help`;

const USAGE = `Usage: edge-offload <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, { summary }]) => `  ${name.padEnd(10)} ${summary}`)
  .join('\n')}

Run 'edge-offload <command> --help' for a command's options.`;

const [command, ...rest] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h' || command === 'help') {
  console.log(USAGE);
} else if (command === 'bench') {
  console.error(BENCH_MOVED);
  process.exitCode = 2;
} else if (!COMMANDS[command]) {
  console.error(`edge-offload: unknown command '${command}'\n\n${USAGE}`);
  process.exitCode = 2;
} else {
  COMMANDS[command].run(rest).catch((err: unknown) => {
    // the stable code (e.g. OPTIONAL_PACKAGE_MISSING) is what scripts and tests match, not the text
    const code = (err as { code?: unknown } | null)?.code;
    console.error(`edge-offload ${command}: ${err instanceof Error ? err.message : String(err)}${typeof code === 'string' ? ` [${code}]` : ''}`);
    // a failed command may leave sockets or timers behind; do not hang on them
    process.exit(1);
  });
}
