/**
 * Fuzzer for WebRTC signalling (`rtcOpen`, `rtcConnect`, `rtcProduceData`, `rtcConsumeData`)
 * through live edge sessions whose node runs a mediasoup worker: each session says hello, usually
 * opens a real transport first (so later frames reach it and the worker behind it), then sends
 * generated signalling at the edges of the schemas and byte/structure mutations of valid
 * signalling, each window followed by a `ping`. Signalling is answered asynchronously (the
 * worker's IPC), so a window counts once its pong and every generated request's answer (or
 * error) are in; a session the node closes counts the frame that closed it and reconnects.
 */
import { PROTOCOL_VERSION, decode, encode } from '../../protocol/index.js';
import { LAX_LIMITS } from '../lib/laxLimits.js';
import { generateRtcMessage } from './generate.js';
import { mutateMessagePack, packFrame } from './mutate.js';
import type { EntryCounts, FuzzBudget } from './entries.js';
import { bump, done, fanOut, FuzzSocket, newCounts } from './fuzzSocket.js';

/** A transport's set-up takes the media worker longer than a plain answer. */
const STALL_MS = 10_000;
const WINDOW = 8;
const LAX = { ...LAX_LIMITS, maxDepth: 64 };

const SHA256 = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':');
/** Valid signalling: the mutator's seeds. */
export const RTC_CORPUS: unknown[] = [
  { t: 'rtcOpen', id: 1 },
  { t: 'rtcConnect', id: 2, dtlsParameters: { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: SHA256 }] } },
  { t: 'rtcProduceData', id: 3, channel: 'poses', sctpStreamParameters: { streamId: 512, ordered: false, maxRetransmits: 0 } },
  { t: 'rtcConsumeData', id: 4, channel: 'predictions' },
];

export async function fuzzRtcSignalling(edgeUrl: string, budget: FuzzBudget): Promise<EntryCounts> {
  const counts = newCounts();
  await fanOut(budget, (localAddress) => rtcWorker(edgeUrl, localAddress, budget, counts));
  return counts;
}

async function rtcWorker(url: string, localAddress: string, budget: FuzzBudget, counts: EntryCounts): Promise<void> {
  const r = budget.random;
  while (!done(counts, budget)) {
    let welcomed = false;
    const answered = new Set<number>();
    const ws = new FuzzSocket(
      url,
      { perMessageDeflate: false, localAddress, maxPayload: 64 << 20 },
      (data, socket) => {
        try {
          const m = decode(data, LAX) as { t: string; id?: number; code?: string; fatal?: boolean };
          if (m.t === 'welcome') welcomed = true;
          else if (m.id !== undefined) answered.add(m.id);
          if (m.t === 'error') bump(counts.answers, m.code ?? 'error');
          else if (m.t !== 'pong' && m.t !== 'welcome') bump(counts.answers, m.t);
          if (m.t === 'error' && m.fatal) socket.closed = true;
        } catch {
          bump(counts.answers, 'undecodable-answer');
        }
      },
      STALL_MS,
    );
    ws.ws.on('open', () => ws.send(encode({ t: 'hello', v: PROTOCOL_VERSION })));
    if (!(await ws.until(() => welcomed || ws.closed)) || ws.closed) {
      if (!ws.closed) counts.stalls++;
      ws.terminate();
      continue;
    }
    // ids: generated requests count up from 1; probes (pings) from 2³¹, so neither collides
    let id = 0;
    let probe = 2 ** 31;
    // most sessions open a real transport first: the worker then sees the connects and data producers
    if (r() < 0.8) {
      ws.send(encode({ t: 'rtcOpen', id: ++id }));
      const opened = id;
      if (!(await ws.until(() => answered.has(opened) || ws.closed))) {
        counts.stalls++;
        ws.terminate();
        continue;
      }
    }
    while (!ws.closed && !done(counts, budget)) {
      const waiting: number[] = [];
      for (let i = 0; i < WINDOW; i++) {
        // a quarter of the campaign's mutation share: most mutations break the framing, which
        // costs a session and a transport, and the framing is the edge entry's to fuzz
        if (r() < budget.destructiveShare / 4) {
          ws.send(mutateMessagePack(r, RTC_CORPUS));
          counts.destructive = (counts.destructive ?? 0) + 1;
        } else {
          ws.send(packFrame(generateRtcMessage(r, ++id)));
          waiting.push(id);
        }
      }
      const ping = ++probe;
      ws.send(encode({ t: 'ping', id: ping, c: 0 }));
      const ok = await ws.until(() => ws.closed || (answered.has(ping) && waiting.every((w) => answered.has(w))));
      if (ok && !ws.closed) counts.frames += WINDOW;
      else if (ws.closed) counts.frames += 1; // the frame that closed the session was processed
      for (const w of waiting) answered.delete(w);
      answered.delete(ping);
      if (!ok) {
        counts.stalls++;
        bump(counts.answers, `stalled: ${waiting.filter((w) => !answered.has(w)).length} of ${waiting.length} unanswered`);
        break;
      }
    }
    if (ws.closed) counts.closes++;
    ws.terminate();
  }
}
