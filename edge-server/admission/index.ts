/** Admission control and budgets for an edge node: who gets a session, and how much each may use. */
export { addressKey } from '../../protocol/server/addressKey.js';
export { SessionAdmission, AdmissionRefusal, type AdmissionTicket, type RefusalCode, type SessionAdmissionOptions } from './SessionAdmission.js';
export { UpgradePacer, DEFAULT_UPGRADES_PER_TURN, DEFAULT_MAX_PENDING_UPGRADES, type UpgradePacerOptions } from './UpgradePacer.js';
export { HmacTokenVerifier, type TokenVerifier } from './TokenVerifier.js';
export { ConnectionGuard, DEFAULT_CONNECTION_GUARD, type ConnectionGuardOptions } from '../../protocol/server/ConnectionGuard.js';
export { IdleTimer, DEFAULT_IDLE_MS } from './IdleTimer.js';
export { FrameGate, DEFAULT_FRAMES_PER_READ, DEFAULT_MAX_QUEUED_BYTES, type FrameGateOptions, type PausableSource, type ReadSource } from './FrameGate.js';
export { SendBudget, type SendBudgetOptions, type SendOutcome, type SendPriority, type SendSink } from './SendBudget.js';
export { MemoryBudget, type MemoryBudgetOptions, type MemoryReservation } from './MemoryBudget.js';
export { estimateTextureBytes, imageSize, type TextureEstimate } from './textureEstimate.js';
export { FairScheduler, type FairSchedulerOptions, type HeavyMeter, type ScheduleOptions } from './FairScheduler.js';
export { NodeGuards, SessionGuard, DEFAULT_HEAVY_MAIN_MS_PER_SECOND, type HeavyKind, type NodeGuardsOptions, type SessionGuardHandlers } from './NodeGuards.js';
