/** Whether a process (a mediasoup worker, an encoder) still exists: signal 0 checks without touching it. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
