import type { BreakerState, CircuitBreaker } from '@lifeline/breaker';
import { hostPort, type Instance } from './instance.ts';

/** Health as the balancer sees it. */
export type EndpointHealth = 'healthy' | 'probing' | 'failing';

/** One endpoint in a snapshot. */
export interface EndpointSnapshot {
  id: string;
  address: string;
  zone: string | undefined;
  health: EndpointHealth;
  breaker: BreakerState;
  /** Skipped by the balancer now. */
  ejected: boolean;
  /** How many times it has been ejected. */
  ejections: number;
  /** While ejected: ms until its break ends and it is probed (a passing health check may end it sooner). */
  returnsInMs: number | undefined;
  /** The break its breaker takes (or is taking) when open, ms: the base break, grown by failed probes and by ejections close together. */
  breakMs: number;
  /** While failing: the breaker transition that opened it (`failure-ratio`, `consecutive-failures`, `slow-calls`, `probe-failed`, …). */
  openedBecause: string | undefined;
  /** Calls and failures in its breaker's current window: what "failing" is judged on (emptied when the breaker opens or closes). */
  window: { calls: number; failures: number };
  inFlight: number;
  /** Peak-EWMA latency to response headers, ms; 0 before the first response. */
  ewmaMs: number;
  requests: number;
  failures: number;
  /** Active health checks sent while its breaker was open, and how many answered 2xx (each ended a break). */
  healthChecks: { sent: number; healthy: number };
}

/**
 * One instance of a service as the balancer tracks it: its requests in flight, a
 * peak-EWMA of its latency, and a circuit breaker that decides when it is an outlier.
 * Created and owned by a {@link ServicePool}; it survives resolver updates that keep
 * its instance id.
 */
export class Endpoint {
  instance: Instance;
  /** `http://host:port` — what a request to this endpoint dispatches to. */
  readonly origin: string;
  readonly breaker: CircuitBreaker;
  /** Requests sent and not yet answered. */
  inFlight = 0;
  /** Peak-EWMA latency, ms; failed attempts feed it a penalty (see {@link penalize}). */
  ewma = 0;
  /** When the last latency sample arrived (clock ms); 0: never, or measured afresh. */
  sampledAt = 0;
  /** The last sample was a failure's penalty: the next success measures the endpoint afresh. @internal */
  penalized = false;
  requests = 0;
  failures = 0;
  /** Open or forced open: the breaker says this endpoint is an outlier. @internal */
  failing = false;
  /** Skipped by the balancer. @internal */
  ejected = false;
  ejections = 0;
  /** Half-open: calls go through only while the breaker has probe slots. @internal */
  probing = false;
  /** Why its breaker last opened (a breaker transition reason). @internal */
  openedBecause = '';
  /** Forced open by an operator: never routed to. @internal */
  forced = false;
  /** Position in the pool's list, for O(1) removal. @internal */
  index = -1;
  /** When its next health check is due (clock ms), while its breaker is open. @internal */
  healthCheckAt = 0;
  /** A health check is in flight. @internal */
  healthCheckInFlight = false;
  /** @internal */
  healthChecksSent = 0;
  /** @internal */
  healthChecksHealthy = 0;

  constructor(instance: Instance, breaker: CircuitBreaker, scheme: 'http' | 'https') {
    this.instance = instance;
    this.origin = `${scheme}://${hostPort(instance.host, instance.port)}`;
    this.breaker = breaker;
  }

  get id(): string {
    return this.instance.id;
  }

  /**
   * Records the latency of a successful attempt, decayed over `decayMs`; a spike moves it at
   * once (peak EWMA, as Finagle). After a failure's penalty the sample replaces the EWMA: an
   * endpoint that answers again is measured afresh, so one transient failure does not keep
   * it out of favour for several decay periods.
   */
  observe(latencyMs: number, now: number, decayMs: number): void {
    if (this.sampledAt === 0 || this.penalized || latencyMs > this.ewma) {
      this.ewma = latencyMs;
    } else {
      const w = Math.exp(-(now - this.sampledAt) / decayMs);
      this.ewma = this.ewma * w + latencyMs * (1 - w);
    }
    this.penalized = false;
    this.sampledAt = now;
  }

  /**
   * Records a failed attempt. A failure never lowers the EWMA: it counts as a sample of at
   * least `penaltyMs` (the pool passes the breaker's slow-call threshold), taken at once as
   * a peak. Fed its own latency instead, an endpoint that refuses connections in 0.2 ms
   * would look like the fastest in the pool, and a least-loaded balancer would send it
   * most of the traffic — the fast-failure black hole. With the penalty it looks like an
   * endpoint at the edge of what the breaker tolerates, which no healthy endpoint exceeds.
   *
   * @example
   * endpoint.penalize(0.2, clock.now(), 1_600); // ewma is now ≥ 1 600
   */
  penalize(latencyMs: number, now: number, penaltyMs: number): void {
    const sample = latencyMs > penaltyMs ? latencyMs : penaltyMs;
    if (this.sampledAt === 0 || sample > this.ewma) this.ewma = sample;
    this.penalized = true;
    this.sampledAt = now;
  }

  /** Forgets the latency measured so far (a breaker going half-open): the probes measure it afresh. @internal */
  resetLatency(): void {
    this.ewma = 0;
    this.sampledAt = 0;
    this.penalized = false;
  }

  snapshot(): EndpointSnapshot {
    const breaker = this.breaker.snapshot();
    return {
      id: this.instance.id,
      address: hostPort(this.instance.host, this.instance.port),
      zone: this.instance.zone,
      health: this.failing ? 'failing' : this.probing ? 'probing' : 'healthy',
      breaker: breaker.state,
      ejected: this.ejected,
      ejections: this.ejections,
      returnsInMs: this.ejected ? breaker.halfOpenInMs : undefined,
      breakMs: breaker.breakDuration,
      openedBecause: this.failing && this.openedBecause !== '' ? this.openedBecause : undefined,
      window: { calls: breaker.calls, failures: breaker.failures },
      inFlight: this.inFlight,
      ewmaMs: Math.round(this.ewma * 10) / 10,
      requests: this.requests,
      failures: this.failures,
      healthChecks: { sent: this.healthChecksSent, healthy: this.healthChecksHealthy },
    };
  }
}
