/**
 * Which client the order service uses for user and payment: the naive fetch loop (the floor),
 * the peers a team would otherwise pick — the design card's stack composed by hand (undici +
 * p-retry + opossum + bottleneck), cockatiel, undici's RetryAgent — and Lifeline.
 */
export type Mode = 'naive' | 'handmade' | 'cockatiel' | 'retry-agent' | 'lifeline';

/** Every client, in the order the tables show them. */
export const MODES: readonly Mode[] = ['naive', 'handmade', 'cockatiel', 'retry-agent', 'lifeline'];

/** The clients a run compares unless told otherwise (`--clients`). */
export const DEFAULT_MODES: readonly Mode[] = ['naive', 'lifeline'];

export type ScenarioName = 'cascade' | 'retry-storm' | 'lost-response' | 'dead-instance' | 'metastable';

/** The knobs of one run of the scenarios, the same for every scenario and both modes. */
export interface ScenarioParams {
  /** `short`: the CI run, phases cut to a few seconds. */
  profile: 'full' | 'short';
  /** Order calls per second (Poisson arrivals). */
  rate: number;
  /** How long the demo's caller waits for POST /orders before giving up, ms. */
  callerTimeoutMs: number;
  /** Healthy traffic before the fault, ms. */
  warmupMs: number;
  /** How long the fault lasts, ms. */
  faultMs: number;
  /** Traffic after the fault is cleared, ms. */
  recoveryMs: number;
  /** After the traffic stops: the longest wait for the outbox to settle every pending order, ms. */
  settleMaxMs: number;
  /** cascade: the latency added to POST /charges, ms. */
  slowMs: number;
  /** lost-response: the share of POST /charges whose response is lost, %. */
  lostPercent: number;
  /** The chaos PRNG seed of every process (which requests a percentage fault hits). */
  chaosSeed: number;
  /**
   * metastable: each payment instance's card processor (`workers` charges at once, `workMs`
   * each), the order traffic as a share of the two instances' capacity (the other scenarios'
   * `rate` does not apply), the processor's workers while the trigger lasts, and the naive
   * client's timeout per attempt.
   */
  metastable: { workers: number; workMs: number; load: number; triggerWorkers: number; naiveAttemptTimeoutMs: number };
}

/** Order calls over one stretch of the run, as the caller saw them. */
export interface CallStats {
  calls: number;
  /** 201 or 202 within the caller's timeout: the order exists. */
  accepted: number;
  /** 201: paid at once. */
  paidAtOnce: number;
  /** 202: accepted as pending_payment. */
  pending: number;
  /** Anything else: an error status, the caller's timeout, a connection error. */
  failed: number;
  /** accepted ÷ calls, 0..1; null without calls. */
  successRate: number | null;
  /** p99 latency of the calls, ms (failed calls count with the time they took). */
  p99Ms: number | null;
}

/** One second of order calls, by start time, ms from the start of the traffic. */
export interface SeriesPoint {
  t: number;
  calls: number;
  paidAtOnce: number;
  pending: number;
  failed: number;
  p99Ms: number | null;
}

/** The figures of one scenario in one mode. */
export interface RunResult {
  scenario: ScenarioName;
  mode: Mode;
  /** Which repetition this run was, from 0 (absent in reports of one run each). */
  round?: number;
  /** Set when the run could not complete; the figures are then partial or absent. */
  error?: string;
  /** Phases, ms from the start of the traffic: fault injected, fault cleared (cleared = the clear action done), traffic stopped. */
  phases: { faultAt: number; clearingAt: number; clearedAt: number; stoppedAt: number; settledAfterMs: number };
  all: CallStats;
  /** Calls started while the fault was on. */
  fault: CallStats;
  /** Calls started during the healthy warm-up. */
  warmup: CallStats;
  /** Σ POST /charges received by the payment instances (every process, the killed one too). */
  chargeRequests: number;
  /** Orders the order service created: each needs exactly one charge. */
  ordersCreated: number;
  /** chargeRequests ÷ ordersCreated; null when no order was created. */
  amplification: number | null;
  /** Rows in the payment ledger, distinct orders in it, and Σ (charges − 1) over orders charged more than once. */
  ledger: { charges: number; orders: number; duplicateCharges: number };
  /** Orders by status in the order service after the settle wait. */
  byStatus: Record<string, number>;
  /** Orders still pending_payment after the settle wait. */
  pendingAfterSettle: number;
  /** Ms from the fault being cleared to the first 1 s span of calls ≥ 95 % paid at once; null: not within the run. */
  recoveryMs: number | null;
  /**
   * Ms from the fault being cleared to the answer of the first poll of the order counts (every
   * 500 ms, from the clear through the recovery and the settle wait) that read 0 orders
   * pending_payment; null: pending never reached 0 before the settle wait ended. Absent in
   * reports from before it was measured.
   */
  backlogChargedMs?: number | null;
  /** Accepted calls (201/202) checked with GET /orders/:id, and how many of them the order service does not have. */
  ordersChecked: number;
  lostOrders: number;
  /** One-second windows of the whole traffic, for the record. */
  series: SeriesPoint[];
  /** What happened besides the plan (an instance exiting on its own). */
  notes: string[];
  /** Wall time of the whole run, stack start to stop, ms. */
  wallMs: number;
}

/** Everything a run of the command produced: what `scenarios.json` holds. */
export interface ScenarioReport {
  /** ISO 8601, when the run started. */
  date: string;
  machine: { platform: string; arch: string; cpus: number; cpuModel: string; memoryGb: number; node: string; loadAverage: number[] };
  params: ScenarioParams;
  scenarios: ScenarioName[];
  /** The clients compared, in column order (absent in reports from before peers: naive and lifeline). */
  modes?: Mode[];
  /** Runs of every (scenario, client); the tables show the median and the range when above 1. Absent: 1. */
  repeat?: number;
  results: RunResult[];
  /** Wall time of the whole command, ms. */
  wallMs: number;
}
