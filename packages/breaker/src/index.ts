export {
  CircuitBreaker,
  type CircuitBreakerOptions,
  type BreakerState,
  type BreakerSnapshot,
  type StateChange,
  type TransitionReason,
} from './circuit-breaker.ts';
export { CircuitOpenError } from './circuit-open-error.ts';
export { BreakerGroup, type BreakerGroupOptions } from './breaker-group.ts';
