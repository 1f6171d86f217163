/**
 * Evidence a trap builds from a wrong infer result or frame (protocol/inferEvidence.ts,
 * protocol/frameEvidence.ts): the request as sent, the answer as received, the node's sealed block.
 * Discovery re-checks all of it; nothing here is taken on the reporter's word.
 */
import { frameRequestToJson, frameToJson, tensorToJson, type ChainSegment, type FrameEvidence, type FrameFacts, type InferEvidence, type Tensor } from '../../protocol/index.js';
import type { TrapInfer, TrapRender, TrapRun } from './TrapVerifier.js';

export function inferEvidence(run: TrapRun, reporter: string, request: TrapInfer, inputs: number, output: Tensor, reference: Tensor, segment: ChainSegment): InferEvidence {
  return {
    kind: 'infer',
    node: run.node,
    session: run.session,
    request: { id: request.id, model: request.model, input: tensorToJson(request.input) },
    inputs,
    output: tensorToJson(output),
    segment,
    reference: tensorToJson(reference),
    reporter,
  };
}

export function frameEvidence(run: TrapRun, reporter: string, request: TrapRender, inputs: number, frame: FrameFacts & { data: Uint8Array }, psnrDb: number, segment: ChainSegment): FrameEvidence {
  return { kind: 'frame', node: run.node, session: run.session, request: frameRequestToJson(request.id, request), inputs, frame: frameToJson(frame), segment, psnrDb, reporter };
}
