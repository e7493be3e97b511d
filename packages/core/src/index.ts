export { type Clock, systemClock, ManualClock } from './clock.ts';
export { ErrorCode } from './codes.ts';
export {
  LifelineError,
  type LifelineErrorOptions,
  type ErrorForCode,
  isLifelineError,
  errorMarker,
  errorHasInstance,
  withoutStack,
} from './errors.ts';
export { HttpStatusError, type ResponseHeaders } from './http-status-error.ts';
export {
  isDeadlineExceeded,
  isAttemptTimeout,
  isCircuitOpen,
  isBulkheadRejected,
  isRetryBudgetExhausted,
  isThrottled,
  isNoEndpoints,
  isHttpStatusError,
  isConnectError,
  isSocketError,
  isAborted,
} from './guards.ts';
export { Deadline } from './deadline.ts';
export type { Logger } from './logger.ts';
export { type Disposable, type Event, EventEmitter } from './event.ts';
export type { ExecuteOptions, Policy, PolicyContext, Priority } from './policy.ts';
export { wrap, WrappedPolicy, type FallbackOf } from './wrap.ts';
export { timeout, TimeoutPolicy, type TimeoutOptions } from './timeout.ts';
export { fallback, FallbackPolicy, type FallbackOptions, type FallbackEvent, type FallbackValue } from './fallback.ts';
export { sleep, abortError } from './sleep.ts';
export { SlidingCounts } from './sliding-counts.ts';
export { seededRandom } from './seeded-random.ts';
export { CoarseTimer, type CoarseTimerOptions, type TimerTask, timerFields } from './coarse-timer.ts';
export {
  checkNumber,
  checkDuration,
  checkInteger,
  checkRatio,
  checkFunction,
  checkString,
  checkBoolean,
  checkObject,
  checkOneOf,
  checkOptionNames,
  optionNames,
} from './validate.ts';
