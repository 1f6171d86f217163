/** `edge-offload bench <name>`: runs bench/<name>, which writes JSON + SVG to bench/results/. */
const BENCHES: Record<string, { load: () => Promise<{ main(argv: string[]): Promise<void> }>; summary: string }> = {
  overhead: { load: () => import('../../bench/overhead.js'), summary: 'predict round trip through the stack vs a raw ws echo of the same bytes' },
  discovery: { load: () => import('../../bench/discovery.js'), summary: 'registry query latency at 210k/1M nodes (memory, Redis), heartbeats, selection quality' },
  'motion-accuracy': { load: () => import('../../bench/motion-accuracy.js'), summary: 'angular/position error per predictor on held-out head-motion traces (needs the traces)' },
  'inference-latency': { load: () => import('../../bench/inference-latency.js'), summary: 'head-predictor latency per tfjs backend (tensorflow, wasm, cpu) and execution path' },
  'predict-load': { load: () => import('../../bench/predict-load.js'), summary: 'predict round trip per predictor, 100 sessions × 90 Hz on one node' },
  failover: { load: () => import('../../bench/failover.js'), summary: 'kill -9 / restore / latency spikes: 20 sessions at 90 Hz, edge and cloud behind netem, discovery' },
  fuzz: { load: () => import('../../bench/fuzz/campaign.js'), summary: 'mutated frames per entry point (edge ws, discovery HTTP and ws) with a bystander; crashes, rejections, prototypes, p99, RSS' },
  'motion-to-photon': { load: () => import('../../bench/motion-to-photon.js'), summary: 'pose sent → stereo frame rendered, received and decoded: loopback, edge 5 ms, cloud 60 ms' },
};

const HELP = `Usage: edge-offload bench <name> [options]

Benchmarks:
${Object.entries(BENCHES)
  .map(([name, { summary }]) => `  ${name.padEnd(18)} ${summary}`)
  .join('\n')}

Run 'edge-offload bench <name> --help' for a benchmark's options.`;

export async function runBenchCommand(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(HELP);
    return;
  }
  const bench = BENCHES[name];
  if (!bench) throw new Error(`unknown benchmark '${name}'\n\n${HELP}`);
  await (await bench.load()).main(rest);
}
