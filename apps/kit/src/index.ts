export { startTelemetry, type Telemetry } from './telemetry.ts';
export { createLogger } from './logger.ts';
export { openDatabase } from './sqlite.ts';
export { INVALID_REQUEST, installProblemHandler, problemReply, sendProblemReply } from './problems.ts';
export {
  commonOptions,
  createServiceApp,
  etcdHosts,
  intOption,
  parseServiceArgs,
  runService,
  UsageError,
  type CommonConfig,
  type ServiceApp,
  type ServiceAppOptions,
} from './service.ts';
export { selfRegister } from './registration.ts';
