/** `edge-offload/discovery`: the service, its registries, and the node-side agent. */
export { DiscoveryServer, type DiscoveryServerOptions } from './DiscoveryServer.js';
export { DiscoveryService } from './DiscoveryService.js';
export { NodeAgent, type NodeAgentOptions, type NodeStatus } from './NodeAgent.js';
export { attachDiscoveryAgent, capabilitiesOf, type DiscoverableServer, type EdgeDiscoveryOptions } from './edgeAgent.js';
export { DiscoveryError, DiscoveryErrorCode } from './errors.js';
export type { NodeDescriptor, OperatorAuthorization, Registration, Heartbeat, Candidate, QueryAnswer } from '../protocol/discovery.js';
export { generateKeyPair, authorizeNode, signRegistration, signHeartbeat, publicKeyFromPrivate } from './identity.js';
export { readNodeKey, readOperatorKey, readAuthorization } from './keyFiles.js';
export { TrustedOperators } from './trust.js';
export { IpLocator } from './locate.js';
export { greatCircleKm, propagationRttMs } from './geo.js';
export { MemoryRegistry, type MemoryRegistryOptions } from './registry/MemoryRegistry.js';
export { RedisRegistry, type RedisRegistryOptions } from './registry/RedisRegistry.js';
export { RedisClusterRegistry, type RedisClusterRegistryOptions } from './registry/RedisClusterRegistry.js';
export type { Registry, NodeRecord, NodeStats } from './registry/Registry.js';
export { runDiscoveryCommand, DISCOVERY_HELP } from './cli.js';
