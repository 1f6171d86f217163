export * from './messages.js';
export * from './errors.js';
export * from './limits.js';
export { encode, decode, validate } from './codec.js';
export { scanMessagePack } from './scan.js';
export * from './tensor.js';
export * as quaternion from './motion/quaternion.js';
export { extrapolateConstantVelocity, estimateVelocity } from './motion/constantVelocity.js';
export { Logger } from './Logger.js';
