/** EntrapNet on the client: trap tasks, their trusted references, and evidence for discovery. */
export { TrapVerifier, type TrapVerifierOptions, type TrapTask, type TrapPredict, type TrapInfer, type TrapRender, type TrapExtra, type TrapExtraAnswer, type TrapExtraReply, type TrapRun, type TrapAnswer, type TrapOutcome, type ReferenceSource, type InferReferenceSource, type FrameReferenceSource } from './TrapVerifier.js';
export { MotionRecorder, makeTrapStream, cryptoRandom, seededRandom, type Random, type TrapStreamOptions } from './trapStream.js';
export { localReference } from './localReference.js';
export { runTrap, type TrapChannel, type TrapSession, type TrapRunOptions } from './TrapRunner.js';
export { TrustOfficer, type TrustOfficerOptions, type TrustOfficerEvents, type TrustNode } from './TrustOfficer.js';
export { remoteReference, remoteInferReference, remoteFrameReference, type FetchReference, type FetchInferReference, type FetchFrameReference } from './remoteReference.js';
