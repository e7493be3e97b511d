import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { type Chaos, createChaos } from '@lifeline/chaos';
import { chaosPlugin } from '@lifeline/chaos/fastify';
import { createLifeline, type Lifeline, type LifelineOptions } from '@lifeline/server';
import { lifelinePlugin } from '@lifeline/server/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createLogger } from './logger.ts';
import { installProblemHandler } from './problems.ts';

/** The command-line options every service takes. */
export const commonOptions = {
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string' },
  instance: { type: 'string' },
  data: { type: 'string' },
  otlp: { type: 'string' },
  chaos: { type: 'boolean', default: false },
  'chaos-seed': { type: 'string', default: '1' },
  registry: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

export interface CommonConfig {
  host: string;
  port: number;
  instance: string;
  data: string;
  otlpUrl: string | undefined;
  chaos: boolean;
  chaosSeed: number;
  /** `etcd://host:port`, or undefined for static discovery. */
  registry: string | undefined;
}

/** Thrown for a bad command line; `main` prints the message and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Parses an integer option, naming it when it is not one. */
export function intOption(name: string, value: string | undefined, range: { min: number; max: number }): number {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  const n = Number(value);
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`--${name} must be an integer from ${range.min} to ${range.max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** The etcd endpoint of `--registry etcd://host:port`, as `http://host:port`. */
export function etcdHosts(registry: string): string {
  const match = /^etcd:\/\/([^/\s]+)\/?$/.exec(registry);
  if (match === null) throw new UsageError(`--registry must look like etcd://host:port, got ${JSON.stringify(registry)}`);
  return `http://${match[1]!}`;
}

/**
 * Parses a service's command line: the common options plus its own. Environment fallbacks:
 * PORT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, LIFELINE_CHAOS=1.
 */
export function parseServiceArgs<T extends ParseArgsOptionsConfig>(
  service: string,
  argv: string[],
  own: T,
  defaults: { port: number; data: string },
) {
  const { values } = parseArgs({ args: argv, options: { ...commonOptions, ...own }, strict: true, allowPositionals: false });
  const common = values as { [K in keyof typeof commonOptions]: string | boolean | undefined };
  const config: CommonConfig = {
    host: common.host as string,
    port: intOption('port', (common.port as string | undefined) ?? process.env['PORT'] ?? String(defaults.port), { min: 0, max: 65_535 }),
    instance: (common.instance as string | undefined) ?? `${service}-1`,
    data: (common.data as string | undefined) ?? defaults.data,
    otlpUrl: (common.otlp as string | undefined) ?? process.env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'],
    chaos: common.chaos === true || process.env['LIFELINE_CHAOS'] === '1',
    chaosSeed: intOption('chaos-seed', common['chaos-seed'] as string, { min: 0, max: 2 ** 31 - 1 }),
    registry: common.registry as string | undefined,
  };
  if (config.registry !== undefined) etcdHosts(config.registry);
  return { config, values };
}

export interface ServiceApp {
  app: FastifyInstance;
  lifeline: Lifeline;
  chaos: Chaos;
  logger: Logger;
}

export interface ServiceAppOptions {
  service: string;
  instance: string;
  logger?: Logger;
  /** Fault injection, off unless `enabled`; its admin endpoint is `/admin/chaos`. */
  chaos?: { enabled: boolean; seed?: number };
  lifeline?: LifelineOptions;
  /** What `GET /admin/resilience` answers: the service's resilience state as plain JSON. */
  snapshot?: () => Record<string, unknown>;
}

/**
 * A Fastify application with the Lifeline server half (request context, shedding,
 * idempotency, health, graceful shutdown), fault injection (off unless enabled), problem
 * responses for bad input, and `GET /admin/resilience`.
 */
export async function createServiceApp(options: ServiceAppOptions): Promise<ServiceApp> {
  const logger = options.logger ?? createLogger({ service: options.service, instance: options.instance });
  const lifeline = createLifeline({ logger, ...options.lifeline });
  const chaos = createChaos({ enabled: options.chaos?.enabled ?? false, seed: options.chaos?.seed ?? 1, logger });
  // One line per state change, none per request (DESIGN §6).
  const fastifyLogger: FastifyBaseLogger = logger;
  // An unknown field is refused (400 naming it), not silently dropped as Fastify does by default.
  const app: FastifyInstance = Fastify({
    loggerInstance: fastifyLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    ajv: { customOptions: { removeAdditional: false } },
  });
  // Every request that reaches the process, by route, counted before anything can refuse it
  // (shedding, faults): the demo's "load on payment" is this count.
  const received: Record<string, number> = {};
  app.addHook('onRequest', (request, _reply, done) => {
    const route = `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]!}`;
    received[route] = (received[route] ?? 0) + 1;
    done();
  });
  // The kit's error handler answers validation errors too, and hands the rest to lifelineErrorHandler.
  await app.register(lifelinePlugin, { lifeline, errorHandler: false });
  await app.register(chaosPlugin, { chaos });
  installProblemHandler(app);
  app.get('/admin/resilience', () => ({
    service: options.service,
    instance: options.instance,
    pid: process.pid,
    server: lifeline.snapshot(),
    chaos: chaos.snapshot(),
    received,
    ...options.snapshot?.(),
  }));
  return { app, lifeline, chaos, logger };
}

/**
 * Runs a service process: `start` builds and returns the app (start telemetry in it first,
 * so that clients bind to it); it listens, and SIGTERM/SIGINT drain it and exit 0. A bad
 * command line exits 2 with the reason.
 */
export async function runService(
  service: string,
  start: () => Promise<{ app: FastifyInstance; lifeline: Lifeline; logger: Logger; host: string; port: number }>,
): Promise<void> {
  try {
    const { app, lifeline, logger, host, port } = await start();
    lifeline.closeOnShutdown(() => app.close());
    lifeline.installSignalHandlers();
    if (process.env['LIFELINE_EXIT_WITH_PARENT'] === '1') {
      // Started by a supervisor (the demo) holding our stdin: when it dies, even by SIGKILL,
      // stdin ends, and we shut down gracefully instead of living on as an orphan.
      process.stdin.once('end', () => process.kill(process.pid, 'SIGTERM')).resume();
    }
    const url = await app.listen({ host, port });
    logger.info({ url }, `${service} listening`);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${service}: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
}
