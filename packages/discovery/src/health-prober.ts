import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Clock } from '@lifeline/core';
import type { Endpoint } from './endpoint.ts';
import type { HealthCheckSettings } from './health-check.ts';

const HEADERS = { 'user-agent': 'lifeline-health-check', accept: '*/*' };

function ignore(): void {}

/**
 * The active health check of one pool: GETs the health path of each endpoint whose breaker is
 * open (not forced open by an operator), every `intervalMs` from when it opened, at most one
 * check in flight per endpoint, and hands a 2xx to `onHealthy` (the pool ends the break). A
 * non-2xx, a timeout or a connection error leaves the break as it is.
 *
 * Why node:http and not undici, as the client uses: a check is one GET with no body, no retry
 * and no interceptor, and node:http keeps `@lifeline/discovery` free of an HTTP client
 * dependency — it is usable without `@lifeline/client`. The pool owns the agent (keep-alive,
 * so an endpoint checked every interval reuses its connection) and destroys it on `close()`.
 *
 * Nothing here holds the process up: the one timer is unref'd and armed only while an endpoint
 * needs a check, and a check's socket is unref'd too (a background check must not keep a CLI
 * alive, as an idle client does not). When no endpoint is open, idle connections are dropped.
 *
 * @internal
 */
export class HealthProber {
  /** Checks sent, and how many answered 2xx. */
  sent = 0;
  healthy = 0;
  readonly #settings: HealthCheckSettings;
  readonly #clock: Clock;
  readonly #endpoints: () => readonly Endpoint[];
  readonly #onHealthy: (endpoint: Endpoint) => void;
  readonly #agent: HttpAgent;
  readonly #request: typeof httpRequest;
  /** Checks in flight and their timeout timers. */
  readonly #inFlight = new Map<ClientRequest, NodeJS.Timeout>();
  #timer: NodeJS.Timeout | undefined;
  #connected = false;
  #closed = false;

  constructor(
    settings: HealthCheckSettings,
    scheme: 'http' | 'https',
    clock: Clock,
    endpoints: () => readonly Endpoint[],
    onHealthy: (endpoint: Endpoint) => void,
  ) {
    this.#settings = settings;
    this.#clock = clock;
    this.#endpoints = endpoints;
    this.#onHealthy = onHealthy;
    const agentOptions = { keepAlive: true, maxFreeSockets: 1 };
    this.#agent = scheme === 'https' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
    this.#request = scheme === 'https' ? httpsRequest : httpRequest;
  }

  /** `endpoint`'s breaker opened: its first check is due one interval from now (a break of at least that). */
  opened(endpoint: Endpoint): void {
    endpoint.healthCheckAt = this.#clock.now() + this.#settings.intervalMs;
  }

  /** Arms the timer for the earliest check due; with none due, stops it and drops idle connections. */
  schedule(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closed) return;
    let soonest = Infinity;
    for (const e of this.#endpoints()) {
      if (needsCheck(e) && e.healthCheckAt < soonest) soonest = e.healthCheckAt;
    }
    if (soonest === Infinity) {
      if (this.#connected && this.#inFlight.size === 0) {
        this.#connected = false;
        this.#agent.destroy();
      }
      return;
    }
    this.#timer = setTimeout(this.#tick, Math.max(1, Math.ceil(soonest - this.#clock.now())));
    this.#timer.unref();
  }

  /** Stops the timer, aborts the checks in flight and closes the connections. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const [request, timeout] of this.#inFlight) {
      clearTimeout(timeout);
      request.destroy();
    }
    this.#inFlight.clear();
    this.#agent.destroy();
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (const e of this.#endpoints()) {
      if (needsCheck(e) && e.healthCheckAt <= now) this.#check(e, now);
    }
    this.schedule();
  };

  #check(endpoint: Endpoint, now: number): void {
    endpoint.healthCheckInFlight = true;
    endpoint.healthCheckAt = now + this.#settings.intervalMs;
    endpoint.healthChecksSent++;
    this.sent++;
    this.#connected = true;
    let response: IncomingMessage | undefined;
    const request = this.#request(
      { host: endpoint.instance.host, port: endpoint.instance.port, path: this.#settings.path, method: 'GET', agent: this.#agent, headers: HEADERS },
      (res) => {
        response = res;
        res.resume(); // read the body through, so the connection can be reused
      },
    );
    const timeout = setTimeout(() => {
      response = undefined;
      request.destroy();
    }, this.#settings.timeoutMs);
    timeout.unref();
    this.#inFlight.set(request, timeout);
    request.on('socket', (socket) => socket.unref());
    request.on('error', ignore); // a refused or reset connection is a failed check, nothing more
    request.on('close', () => {
      clearTimeout(timeout);
      endpoint.healthCheckInFlight = false;
      if (!this.#inFlight.delete(request) || this.#closed) return;
      const status = response?.statusCode ?? 0;
      if (status >= 200 && status < 300 && response!.complete) {
        endpoint.healthChecksHealthy++;
        this.healthy++;
        this.#onHealthy(endpoint);
      }
      this.schedule();
    });
    request.end();
  }
}

/** Open by its breaker's verdict (an operator's forced open is never checked), no check in flight. */
function needsCheck(e: Endpoint): boolean {
  return e.failing && !e.forced && !e.healthCheckInFlight;
}
