import { channel } from 'node:diagnostics_channel';
import {
  checkDuration,
  checkFunction,
  checkInteger,
  checkObject,
  checkOptionNames,
  EventEmitter,
  optionNames,
  type Event,
  type Logger,
} from '@lifeline/core';
import { ChaosConfigError } from './errors.ts';
import { PathMatcher } from './match.ts';
import { Mulberry32, Z_99 } from './prng.ts';
import { copyRule, describeRule, MAX_DELAY_MS, nextId, parseRule, parseRules, show, type ChaosRule, type Fault, type LatencyFault } from './rules.ts';

export interface ChaosOptions {
  /** Whether faults are injected and the admin endpoint answers. Default `false`: nothing happens until enabled. */
  enabled?: boolean;
  /** Seed of the generator that decides which requests get a fault and draws latencies. Default 1. */
  seed?: number;
  /** The rules, in order (the first whose roll hits wins). Default none. */
  rules?: ChaosRule[];
  /** How long a `hang` holds the connection before destroying it, ms. Default 60 000. */
  hangMs?: number;
  /** Where the admin endpoint answers. Default `/admin/chaos`. */
  adminPath?: string;
  /** Told when chaos is enabled (warn), disabled and when its rules change (info). */
  logger?: Logger;
}

const CHAOS_OPTIONS = optionNames<ChaosOptions>({ enabled: true, seed: true, rules: true, hangMs: true, adminPath: true, logger: true });

/** A chaos instance's state, as plain JSON. */
export interface ChaosSnapshot {
  enabled: boolean;
  seed: number;
  rules: ChaosRule[];
  /** Faults injected per rule id, since the rule was set. */
  injected: Record<string, number>;
  /** Requests looked at while enabled, since the instance was made. */
  requests: number;
}

/** What {@link Chaos.pick} chose for a request. */
export interface ChaosPick {
  rule: ChaosRule;
  fault: Fault;
}

/** A rule ready for the request path: method upper-cased, path compiled, percent as a ratio. */
class ActiveRule {
  readonly rule: ChaosRule;
  readonly pick: ChaosPick;
  readonly method: string | undefined;
  readonly matcher: PathMatcher;
  readonly ratio: number;
  injected = 0;

  constructor(rule: ChaosRule) {
    const frozen = Object.freeze({ ...copyRule(rule), fault: Object.freeze({ ...rule.fault }) });
    this.rule = frozen;
    this.pick = Object.freeze({ rule: frozen, fault: frozen.fault });
    this.method = rule.method === '*' || rule.method === undefined ? undefined : rule.method;
    this.matcher = new PathMatcher(rule.path);
    this.ratio = rule.percent / 100;
  }
}

/** N of an id of the form `rN` (0 for any other), so ids assigned later never repeat it. */
function autoNumber(id: string): number {
  const n = /^r(\d{1,9})$/.exec(id)?.[1];
  return n === undefined ? 0 : Number(n);
}

/** Published on every injected fault: `{ rule, fault, method, path }`. */
const faultChannel = channel('lifeline:chaos:fault');

const ADMIN_PATH = /^(\/[A-Za-z0-9._~!$&'()+,;=@-]+)+$/;

function checkAdminPath(value: unknown): string {
  if (typeof value !== 'string' || !ADMIN_PATH.test(value)) {
    throw new TypeError(`lifeline: option \`chaos.adminPath\` must be a path such as '/admin/chaos' (no trailing '/', ':', '*' or query), got ${show(value)}`);
  }
  return value;
}

/**
 * Seeded, reproducible fault injection. Holds the rules and decides, per request, whether a
 * fault applies: {@link Chaos.pick} goes through the rules in order and, for each one
 * matching the method and path, draws from a seeded mulberry32 generator; the first draw
 * under the rule's percent wins. The same seed and the same sequence of requests give the
 * same decisions, so a failing run can be replayed. The adapters apply what it picks:
 * `chaosHandler` (node:http), `chaosPlugin` (`@lifeline/chaos/fastify`) and
 * `chaosInterceptor` (undici).
 *
 * Nothing happens unless it is enabled — in the options or with `enable()`; disabled, `pick`
 * returns `undefined` at the cost of one field read, and the admin endpoint answers 404.
 *
 * @example
 * const chaos = createChaos({ enabled: process.env.CHAOS === '1', seed: 42 });
 * chaos.add({ method: 'POST', path: '/charges', percent: 20, fault: { type: 'lose-response' } });
 * chaos.onChange((snapshot) => log.info(snapshot, 'chaos changed'));
 */
export class Chaos {
  /** Where the admin endpoint answers. */
  readonly adminPath: string;
  /** How long a `hang` holds the connection, ms. */
  readonly hangMs: number;
  readonly #seed: number;
  readonly #random: Mulberry32;
  readonly #logger: Logger | undefined;
  #enabled: boolean;
  #active: ActiveRule[] = [];
  #lastId = 0;
  #requests = 0;
  readonly #onChange = new EventEmitter<ChaosSnapshot>();
  /** Fires after every change: enabled, disabled, rules set, added, removed or cleared. */
  readonly onChange: Event<ChaosSnapshot> = this.#onChange.event;

  constructor(options: ChaosOptions = {}) {
    checkObject('chaos', options);
    checkOptionNames('chaos', options, CHAOS_OPTIONS);
    if (options.enabled !== undefined && typeof options.enabled !== 'boolean') {
      throw new TypeError(`lifeline: option \`chaos.enabled\` must be true or false, got ${show(options.enabled)}`);
    }
    this.#seed = checkInteger('chaos.seed', options.seed ?? 1, 0, 0xffff_ffff);
    this.hangMs = checkDuration('chaos.hangMs', options.hangMs ?? 60_000);
    if (this.hangMs > MAX_DELAY_MS) {
      throw new RangeError(`lifeline: option \`chaos.hangMs\` must be at most ${MAX_DELAY_MS}, got ${this.hangMs}`);
    }
    this.adminPath = checkAdminPath(options.adminPath ?? '/admin/chaos');
    if (options.logger !== undefined) {
      const logger = checkObject('chaos.logger', options.logger)!;
      checkFunction('chaos.logger.warn', logger.warn);
      checkFunction('chaos.logger.info', logger.info);
    }
    this.#logger = options.logger;
    this.#random = new Mulberry32(this.#seed);
    this.#enabled = options.enabled ?? false;
    if (options.rules !== undefined) this.#replace(parseRules(options.rules));
    if (this.#enabled) this.#logger?.warn({ seed: this.#seed, rules: this.#describe() }, 'chaos: fault injection enabled');
  }

  /** Whether faults are injected and the admin endpoint answers. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** Starts injecting faults (and answering the admin endpoint). */
  enable(): void {
    if (this.#enabled) return;
    this.#enabled = true;
    this.#logger?.warn({ seed: this.#seed, rules: this.#describe() }, 'chaos: fault injection enabled');
    this.#changed();
  }

  /** Stops injecting faults; the admin endpoint answers 404 until `enable()` is called again. */
  disable(): void {
    if (!this.#enabled) return;
    this.#enabled = false;
    this.#logger?.info({}, 'chaos: fault injection disabled');
    this.#changed();
  }

  /** Copies of the rules, in order, with their ids. */
  rules(): ChaosRule[] {
    return this.#active.map((a) => copyRule(a.rule));
  }

  /**
   * Replaces every rule. The whole input is validated first ({@link parseRules}); on error it
   * throws a `ChaosConfigError` and the rules in place stay as they were.
   */
  set(rules: unknown): ChaosRule[] {
    const parsed = parseRules(rules);
    this.#replace(parsed);
    this.#logChange();
    this.#changed();
    return this.rules();
  }

  /** Validates one rule and appends it; returns it with its id (assigned when missing). */
  add(rule: unknown): ChaosRule {
    const parsed = parseRule('rule', rule);
    const taken = new Set(this.#active.map((a) => a.rule.id!));
    if (parsed.id === undefined) {
      const next = nextId(taken, this.#lastId);
      parsed.id = next.id;
      this.#lastId = next.n;
    } else if (taken.has(parsed.id)) {
      throw new ChaosConfigError(`rule.id: '${parsed.id}' is already in use`);
    } else {
      this.#lastId = Math.max(this.#lastId, autoNumber(parsed.id));
    }
    const active = new ActiveRule(parsed);
    this.#active = [...this.#active, active];
    this.#logChange();
    this.#changed();
    return copyRule(active.rule);
  }

  /** Removes the rule with this id; false when there is none. */
  remove(id: string): boolean {
    const kept = this.#active.filter((a) => a.rule.id !== id);
    if (kept.length === this.#active.length) return false;
    this.#active = kept;
    this.#logChange();
    this.#changed();
    return true;
  }

  /** Removes every rule. */
  clear(): void {
    this.#active = [];
    this.#logChange();
    this.#changed();
  }

  /**
   * The fault for a request, or `undefined`: when disabled, or when no rule fires. Rules are
   * tried in order; each one whose method and path match takes one draw from the seeded
   * generator, and fires when the draw is under its percent. `route`, when given, is the
   * route pattern the request matched (`/users/:id`): a rule's path may match either.
   */
  pick(method: string, path: string, route?: string): ChaosPick | undefined {
    if (!this.#enabled) return undefined;
    this.#requests++;
    const rules = this.#active;
    if (rules.length === 0) return undefined;
    const upper = method.toUpperCase();
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]!;
      if (rule.method !== undefined && rule.method !== upper) continue;
      if (!rule.matcher.matches(path) && (route === undefined || !rule.matcher.matches(route))) continue;
      if (this.#random.next() >= rule.ratio) continue;
      rule.injected++;
      if (faultChannel.hasSubscribers) faultChannel.publish({ rule: rule.rule, fault: rule.pick.fault, method, path });
      return rule.pick;
    }
    return undefined;
  }

  /**
   * A delay for a latency fault, ms: the fixed `ms`; a uniform draw in `[min, max]`; or a
   * log-normal draw, `median · e^(σ·z)` with `σ = ln(p99 / median) / 2.326` so that 99 % of
   * draws fall under `p99`. Draws come from the seeded generator; capped at 2^31 - 1 ms.
   */
  delayFor(fault: LatencyFault): number {
    if ('ms' in fault) return fault.ms;
    if ('min' in fault) return fault.min + (fault.max - fault.min) * this.#random.next();
    const sigma = Math.log(fault.p99 / fault.median) / Z_99;
    return Math.min(MAX_DELAY_MS, fault.median * Math.exp(sigma * this.#random.normal()));
  }

  /** The state as plain JSON: enabled, seed, rules, faults injected per rule, requests looked at. */
  snapshot(): ChaosSnapshot {
    const injected: Record<string, number> = {};
    for (const active of this.#active) injected[active.rule.id!] = active.injected;
    return { enabled: this.#enabled, seed: this.#seed, rules: this.rules(), injected, requests: this.#requests };
  }

  #replace(rules: ChaosRule[]): void {
    this.#active = rules.map((rule) => new ActiveRule(rule));
    this.#lastId = rules.reduce((max, rule) => Math.max(max, autoNumber(rule.id!)), 0);
  }

  #describe(): string[] {
    return this.#active.map((a) => `${a.rule.id}: ${describeRule(a.rule)}`);
  }

  #logChange(): void {
    this.#logger?.info({ rules: this.#describe() }, 'chaos: rules changed');
  }

  #changed(): void {
    if (this.#onChange.hasListeners) this.#onChange.emit(this.snapshot());
  }
}

/**
 * Makes a {@link Chaos}. Options are validated here: a bad seed, hangMs, adminPath or rule
 * throws, naming it. It is **off** unless `enabled: true` is given (or `enable()` called).
 *
 * @example
 * const chaos = createChaos({
 *   enabled: process.env.CHAOS === '1',
 *   seed: 7,
 *   rules: [{ method: 'POST', path: '/charges', percent: 10, fault: { type: 'error', status: 503, retryAfterMs: 1_000 } }],
 * });
 */
export function createChaos(options?: ChaosOptions): Chaos {
  return new Chaos(options);
}
