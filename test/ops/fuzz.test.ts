/**
 * The CI-sized fuzz campaign: mutated and generated frames against a real node (with a mediasoup
 * worker: rtc* signalling in live sessions; skipped, saying why, when none is installed) and
 * discovery (HTTP, /v1/ws, /v1/node) in a child process, with a bystander session. Bounded in time per entry point (the machine
 * may be busy); asserts that nothing broke, and that the fuzzer really ran.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runFuzzCampaign, ENTRY_POINTS } from '../../bench/fuzz/campaign.js';

const test = suite('ops: fuzz (CI run)');

test('≈50k frames per entry point: no crash, no unhandled rejection, prototypes untouched, the bystander never fails', async () => {
  const frames = Number(process.env.EDGE_OFFLOAD_FUZZ_FRAMES ?? 50_000);
  const report = await runFuzzCampaign({
    frames,
    entries: ENTRY_POINTS,
    seed: Number(process.env.EDGE_OFFLOAD_FUZZ_SEED ?? 7),
    concurrency: 16,
    timeLimitS: Number(process.env.EDGE_OFFLOAD_FUZZ_TIME_LIMIT_S ?? 60),
    baselineS: 1,
    destructiveShare: 0.2,
  });
  assert.is(report.crashes, 0, report.crashDetail ?? '');
  assert.is(report.unhandledRejections, 0, report.unhandledSamples.join('\n---\n'));
  assert.equal(report.prototypeChanges, []);
  assert.is(report.bystanderClosed, false);
  assert.is(report.rtcWorkerDeaths, 0, 'a mediasoup worker died under fuzzed signalling');
  assert.is(report.entries.length, ENTRY_POINTS.length);
  for (const e of report.entries) {
    if (e.skipped) {
      // only the WebRTC entry may be skipped, and only for want of a mediasoup worker
      assert.is(e.entry, 'rtc');
      console.log(`  fuzz: rtc entry skipped: ${e.skipped}`);
      continue;
    }
    assert.is(e.bystander.failures, 0, `${e.entry}: bystander failures`);
    assert.ok(e.bystander.predictions > 0, `${e.entry}: the bystander was answered during the run`);
    // the fuzzer really reached the parsers: at least a thousand processed frames, several codes
    assert.ok(e.frames >= Math.min(frames, 1000), `${e.entry}: only ${e.frames} frames processed`);
    assert.ok(Object.keys(e.answers).length >= 3, `${e.entry}: answers ${JSON.stringify(e.answers)}`);
    assert.is(e.stalls, 0, `${e.entry}: ${e.stalls} probes went unanswered`);
  }
});

test.run();
