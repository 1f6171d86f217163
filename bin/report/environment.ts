/** What every bench and `measure` prints and records first: where it ran. */
import os from 'node:os';

export interface Environment {
  node: string;
  platform: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  date: string;
  [extra: string]: unknown;
}

export function environment(extra: Record<string, unknown> = {}): Environment {
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    date: new Date().toISOString(),
    ...extra,
  };
}

export function printEnvironment(env: Environment): void {
  console.log(`# ${env.date}  node ${env.node}  ${env.platform}  ${env.cpu} ×${env.cores}  ${env.memoryGiB} GiB`);
  for (const [key, value] of Object.entries(env)) {
    if (!['node', 'platform', 'cpu', 'cores', 'memoryGiB', 'date'].includes(key)) console.log(`#   ${key}: ${JSON.stringify(value)}`);
  }
}
