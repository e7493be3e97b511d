export {
  isBreaker,
  type Breaker,
  type BreakerState,
  type BreakerSnapshot,
  type StateChange,
  type TransitionReason,
} from './breaker.ts';
export { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker.ts';
export { CircuitOpenError } from './circuit-open-error.ts';
export { BreakerGroup, type BreakerGroupOptions } from './breaker-group.ts';
export { AdaptiveThrottle, type AdaptiveThrottleOptions, type AdaptiveThrottleSnapshot } from './adaptive-throttle.ts';
export { ThrottledError } from './throttled-error.ts';
