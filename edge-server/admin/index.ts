/** The authenticated operator endpoint of an edge node. */
export { AdminEndpoint, publicHealth, MAX_ADMIN_BODY_BYTES, type AdminActions } from './AdminEndpoint.js';
export { AdminVerifier, AdminAuthError, AdminErrorCode, signAdminRequest, ADMIN_DOMAIN, type AdminVerifierOptions, type AdminRequestParts, type OperatorKeys } from './adminAuth.js';
