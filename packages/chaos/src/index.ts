export { Chaos, createChaos, type ChaosOptions, type ChaosPick, type ChaosSnapshot } from './chaos.ts';
export { ChaosConfigError, isChaosConfigError } from './errors.ts';
export { chaosHandler } from './node-handler.ts';
export { chaosInterceptor } from './interceptor.ts';
export { describeRule, parseRules, type ChaosRule, type Fault, type LatencyFault } from './rules.ts';
