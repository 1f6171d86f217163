/**
 * `hello`: checks the protocol version, adopts a resuming client's state, answers `welcome`, signed
 * over the client's nonce when the node has its registered key (protocol/nodeIdentity.ts).
 */
import { CloseCode, ErrorCode, PROTOCOL_VERSION, ProtocolError, type Capability } from '../../protocol/index.js';
import { signWelcome } from '../trust/welcomeProof.js';
import type { Handler, NodeContext } from './context.js';

export const hello: Handler<'hello'> = (message, ctx) => {
  if (ctx.opened) throw new ProtocolError(ErrorCode.NOT_READY, 'second hello on one session');
  if (message.v !== PROTOCOL_VERSION) {
    throw new ProtocolError(ErrorCode.VERSION_MISMATCH, `protocol v${message.v} is not supported; this node speaks v${PROTOCOL_VERSION}`, CloseCode.VERSION_MISMATCH);
  }
  // a refused or missing token closes the session (UNAUTHORIZED) before anything is adopted
  ctx.guard.authorize(message.token);
  const resume = message.resume;
  ctx.motion.resume(resume?.predictor);
  ctx.render?.resume(resume?.scene);
  for (const sample of resume?.poses ?? []) ctx.motion.observe(sample);
  const { node } = ctx;
  const { limits } = node;
  ctx.send({
    t: 'welcome',
    v: PROTOCOL_VERSION,
    session: ctx.sessionId,
    node: { id: node.nodeId, tier: node.tier },
    caps: capabilities(node),
    predictors: [...node.predictors.keys()],
    models: [...(node.inference?.models ?? [])],
    limits: {
      maxFrameBytes: limits.maxFrameBytes,
      maxPosesPerMessage: limits.maxPosesPerMessage,
      maxTensorElements: limits.maxTensorElements,
      maxMessagesPerSecond: limits.maxMessagesPerSecond,
      maxHorizonMs: limits.maxHorizonMs,
    },
    time: performance.now(),
    ...(message.nonce !== undefined && node.nodeKey ? { proof: signWelcome(node.nodeKey, { nonce: message.nonce, node: node.nodeId, session: ctx.sessionId, tier: node.tier }) } : {}),
  }, 'required');
  ctx.open();
};

function capabilities(node: NodeContext): Capability[] {
  const caps: Capability[] = ['predict'];
  if (node.inference) caps.push('infer');
  if (node.renderer) caps.push('render');
  if (node.rtc) caps.push('webrtc');
  // video needs WebRTC, ffmpeg and frames to encode
  if (node.rtc && node.renderer && !(node.rtc.video instanceof Error)) caps.push('video');
  return caps;
}
