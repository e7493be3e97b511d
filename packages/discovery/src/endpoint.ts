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
  /** While ejected: ms until it is probed again. */
  returnsInMs: number | undefined;
  inFlight: number;
  /** Peak-EWMA latency to response headers, ms; 0 before the first response. */
  ewmaMs: number;
  requests: number;
  failures: number;
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
  /** Peak-EWMA latency, ms. */
  ewma = 0;
  /** When the last latency sample arrived (clock ms). */
  sampledAt = 0;
  requests = 0;
  failures = 0;
  /** Open or forced open: the breaker says this endpoint is an outlier. @internal */
  failing = false;
  /** Skipped by the balancer. @internal */
  ejected = false;
  ejections = 0;
  /** Half-open: calls go through only while the breaker has probe slots. @internal */
  probing = false;
  /** Forced open by an operator: never routed to. @internal */
  forced = false;
  /** Position in the pool's list, for O(1) removal. @internal */
  index = -1;

  constructor(instance: Instance, breaker: CircuitBreaker, scheme: 'http' | 'https') {
    this.instance = instance;
    this.origin = `${scheme}://${hostPort(instance.host, instance.port)}`;
    this.breaker = breaker;
  }

  get id(): string {
    return this.instance.id;
  }

  /** Records a latency sample, decayed over `decayMs`; a spike moves it at once (peak EWMA, as Finagle). */
  observe(latencyMs: number, now: number, decayMs: number): void {
    if (this.sampledAt === 0 || latencyMs > this.ewma) {
      this.ewma = latencyMs;
    } else {
      const w = Math.exp(-(now - this.sampledAt) / decayMs);
      this.ewma = this.ewma * w + latencyMs * (1 - w);
    }
    this.sampledAt = now;
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
      inFlight: this.inFlight,
      ewmaMs: Math.round(this.ewma * 10) / 10,
      requests: this.requests,
      failures: this.failures,
    };
  }
}
