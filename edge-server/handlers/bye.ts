/** `bye`: the client is leaving; close normally. */
import { CloseCode } from '../../protocol/index.js';
import type { Handler } from './context.js';

export const bye: Handler<'bye'> = (_message, ctx) => {
  ctx.close(CloseCode.NORMAL, 'bye');
};
