/**
 * Sessions driven as an app's frame loop drives them, for the trust suites: each frame a pose,
 * then a predict whose answer is awaited, counting what was asked and answered (a failed call
 * throws, so asked === answered is "no failed call visible to the app").
 */
import type { Session } from '../../client-sdk/session/Session.js';
import { swayingWalk } from './motionFixtures.js';

export interface Driven {
  session: Session;
  asked: number;
  answered: number;
}

/** One frame for every session: a pose, then a predict whose answer is awaited (a failed call throws). */
export async function frame(all: Driven[], i: number, walk = swayingWalk()): Promise<void> {
  await Promise.all(
    all.map(async (d) => {
      d.session.sendPose({ ...walk.at(i / 90), time: Math.round(performance.now() * 1000) });
      d.asked++;
      await d.session.predict(20);
      d.answered++;
    }),
  );
  // yield as a real frame loop does: a local answer resolves in a microtask, and a loop that never
  // yields starves the sockets a session needs to find a node again (test/trust-session.test.ts)
  await new Promise<void>((resolve) => setImmediate(resolve));
}
