/** `ping`: answered at once with the frame's arrival and send times, for clock offset and RTT. */
import type { Handler } from './context.js';

export const ping: Handler<'ping'> = (message, ctx, receivedAt) => {
  ctx.send({ t: 'pong', id: message.id, c: message.c, r: receivedAt, s: performance.now() });
};
