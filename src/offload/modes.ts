/** --jwt-verify values; apart from jws-verifier.ts so the CLI parses them without loading piscina. */
export type JwtVerifyMode = 'inline' | 'pool' | 'batch';
export const JWT_VERIFY_MODES: readonly JwtVerifyMode[] = ['inline', 'pool', 'batch'];
