// The concurrency limiter now lives in core/ (shared with the LMTP connections of local/).
export { Limiter } from '../core/limiter.ts';
