import type { IncomingMessage } from 'node:http';
import { checkDuration, checkFunction, checkObject, checkOptionNames, checkString, optionNames, type Logger } from '@lifeline/core';

/** A readiness check: `true` (or a promise of it) when the dependency it watches is usable. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/** Options of the health endpoints. */
export interface HealthOptions {
  /** Liveness path: 200 while the process can answer at all. Default `/health/live`. */
  livePath?: string;
  /** Readiness path: 200 while the instance should get traffic; 503 once shutdown begins or a check fails. Default `/health/ready`. */
  readyPath?: string;
  /** Named readiness checks, run on every readiness probe; one that throws, rejects or answers `false` fails readiness. */
  checks?: Record<string, ReadinessCheck>;
  /** How long a readiness check may take before it counts as failed, ms. Default 2 000. */
  checkTimeoutMs?: number;
}

const HEALTH_OPTIONS = optionNames<HealthOptions>({ livePath: true, readyPath: true, checks: true, checkTimeoutMs: true });

/** A health answer, as `application/health+json` (draft-inadarei-api-health-check). */
export interface HealthResponse {
  status: 200 | 503;
  body: { status: 'pass' | 'fail'; checks?: Record<string, 'pass' | 'fail'>; reason?: string };
}

/** @internal Which health endpoint a request is for. */
export type HealthKind = 'live' | 'ready';

/** @internal Answers the liveness and readiness probes. */
export class Health {
  readonly livePath: string;
  readonly readyPath: string;
  readonly #checks: [string, ReadinessCheck][];
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #failing = new Set<string>();

  constructor(options: HealthOptions, logger: Logger | undefined) {
    checkObject('health', options);
    checkOptionNames('health', options, HEALTH_OPTIONS);
    this.livePath = checkPath('health.livePath', options.livePath ?? '/health/live');
    this.readyPath = checkPath('health.readyPath', options.readyPath ?? '/health/ready');
    checkObject('health.checks', options.checks);
    this.#checks = Object.entries(options.checks ?? {}).map(([name, check]) => [
      name,
      checkFunction<ReadinessCheck>(`health.checks.${name}`, check),
    ]);
    this.#timeoutMs = checkDuration('health.checkTimeoutMs', options.checkTimeoutMs ?? 2_000);
    this.#logger = logger;
  }

  /** Which probe `req` is (GET or HEAD on one of the two paths), or `undefined`. */
  match(req: IncomingMessage): HealthKind | undefined {
    const url = req.url;
    if (url === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) return undefined;
    if (matches(url, this.readyPath)) return 'ready';
    if (matches(url, this.livePath)) return 'live';
    return undefined;
  }

  live(): HealthResponse {
    return { status: 200, body: { status: 'pass' } };
  }

  async ready(shuttingDown: boolean): Promise<HealthResponse> {
    if (shuttingDown) return { status: 503, body: { status: 'fail', reason: 'shutting down' } };
    if (this.#checks.length === 0) return { status: 200, body: { status: 'pass' } };
    const results = await Promise.all(this.#checks.map(([name, check]) => this.#run(name, check)));
    const checks: Record<string, 'pass' | 'fail'> = {};
    let pass = true;
    for (let i = 0; i < results.length; i++) {
      checks[this.#checks[i]![0]] = results[i] ? 'pass' : 'fail';
      pass &&= results[i]!;
    }
    return { status: pass ? 200 : 503, body: { status: pass ? 'pass' : 'fail', checks } };
  }

  async #run(name: string, check: ReadinessCheck): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    let ok: boolean;
    let failure: unknown;
    try {
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), this.#timeoutMs);
        timer.unref();
      });
      ok = (await Promise.race([Promise.resolve().then(check), timeout])) === true;
    } catch (error) {
      ok = false;
      failure = error;
    } finally {
      clearTimeout(timer);
    }
    // Logged on a change only: a probe every few seconds must not write a line each time.
    if (!ok && !this.#failing.has(name)) {
      this.#failing.add(name);
      this.#logger?.warn({ check: name, err: failure }, `lifeline: readiness check ${name} is failing`);
    } else if (ok && this.#failing.delete(name)) {
      this.#logger?.info({ check: name }, `lifeline: readiness check ${name} passes again`);
    }
    return ok;
  }
}

function matches(url: string, path: string): boolean {
  return url === path || (url.startsWith(path) && url.charCodeAt(path.length) === 0x3f /* ? */);
}

function checkPath(name: string, value: unknown): string {
  const path = checkString(name, value);
  if (!path.startsWith('/') || path.includes('?')) {
    throw new TypeError(`lifeline: option \`${name}\` must be a path starting with "/" and without a query, got ${JSON.stringify(path)}`);
  }
  return path;
}
