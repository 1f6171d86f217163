/** `pose`: tracker samples into the session's histories; nothing is answered. */
import type { Handler } from './context.js';

export const pose: Handler<'pose'> = (message, ctx) => {
  for (const sample of message.poses) ctx.motion.observe(sample);
};
