import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { createChaos, type ChaosSnapshot } from './chaos.ts';
import { ChaosConfigError } from './errors.ts';
import type { ChaosRule, LatencyFault } from './rules.ts';

const rule = (percent: number, extra: Partial<ChaosRule> = {}): ChaosRule => ({ path: '*', percent, fault: { type: 'reset' }, ...extra });

describe('createChaos options', () => {
  it('is off by default: nothing is picked, even with a 100 % rule', () => {
    const chaos = createChaos({ rules: [rule(100)] });
    expect(chaos.enabled).toBe(false);
    for (let i = 0; i < 100; i++) expect(chaos.pick('GET', '/')).toBeUndefined();
    expect(chaos.snapshot()).toMatchObject({ enabled: false, seed: 1, requests: 0, injected: { r1: 0 } });
    expect(chaos.adminPath).toBe('/admin/chaos');
    expect(chaos.hangMs).toBe(60_000);
  });

  it.each([
    [{ seed: 1.5 }, 'lifeline: option `chaos.seed` must be an integer, got 1.5'],
    [{ seed: -1 }, 'lifeline: option `chaos.seed` must be between 0 and 4294967295, got -1'],
    [{ seed: '7' }, 'lifeline: option `chaos.seed` must be a number, got "7"'],
    [{ hangMs: -1 }, 'lifeline: option `chaos.hangMs` must be >= 0, got -1'],
    [{ hangMs: Infinity }, 'lifeline: option `chaos.hangMs` must be a finite number of milliseconds, got Infinity'],
    [{ hangMs: 2 ** 31 }, 'lifeline: option `chaos.hangMs` must be at most 2147483647, got 2147483648'],
    [{ adminPath: 'admin' }, "lifeline: option `chaos.adminPath` must be a path such as '/admin/chaos' (no trailing '/', ':', '*' or query), got 'admin'"],
    [{ adminPath: '/admin/' }, "lifeline: option `chaos.adminPath` must be a path such as '/admin/chaos' (no trailing '/', ':', '*' or query), got '/admin/'"],
    [{ adminPath: '/a/:id' }, "lifeline: option `chaos.adminPath` must be a path such as '/admin/chaos' (no trailing '/', ':', '*' or query), got '/a/:id'"],
    [{ enabled: 'yes' }, "lifeline: option `chaos.enabled` must be true or false, got 'yes'"],
    [{ logger: console.log }, 'lifeline: option `chaos.logger` must be an object, got a function'],
    [{ logger: { warn() {} } }, 'lifeline: option `chaos.logger.info` must be a function, got undefined'],
    [{ seeed: 3 }, 'lifeline: unknown option `chaos.seeed` (did you mean `seed`?)'],
    [{ rules: [rule(150)] }, 'rules[0].percent: must be a number from 0 to 100, got 150'],
  ])('refuses %j, naming the option', (options, expected) => {
    expect(() => createChaos(options as never)).toThrow(expected);
  });

  it('refuses bad rules with a ChaosConfigError', () => {
    expect(() => createChaos({ rules: [{ path: '/', percent: 1, fault: { type: 'boom' } }] as never })).toThrow(ChaosConfigError);
  });
});

describe('Chaos.pick', () => {
  it('gives identical decisions for the same seed and the same requests, different ones for another seed', () => {
    const rules: ChaosRule[] = [
      rule(10, { method: 'POST', path: '/charges', fault: { type: 'error', status: 503 } }),
      rule(30, { path: '/users/:id', fault: { type: 'latency', min: 1, max: 100 } }),
      rule(20, { fault: { type: 'lose-response' } }),
    ];
    const requests = Array.from({ length: 1000 }, (_, i): [string, string] =>
      i % 3 === 0 ? ['POST', '/charges'] : i % 3 === 1 ? ['GET', `/users/${i}`] : ['GET', '/other'],
    );
    const run = (seed: number): (string | number)[] => {
      const chaos = createChaos({ enabled: true, seed, rules });
      return requests.map(([method, path]) => {
        const picked = chaos.pick(method, path);
        if (picked === undefined) return '-';
        return picked.fault.type === 'latency' ? `${picked.rule.id}:${chaos.delayFor(picked.fault).toFixed(6)}` : picked.rule.id!;
      });
    };
    const first = run(42);
    expect(run(42)).toEqual(first);
    expect(first.filter((d) => d !== '-').length).toBeGreaterThan(100);
    expect(run(43)).not.toEqual(first);
  });

  it('fires a 30 % rule on 30 % (± 2) of 10 000 requests, counting them in the snapshot', () => {
    const chaos = createChaos({ enabled: true, seed: 9, rules: [rule(30)] });
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (chaos.pick('GET', `/x/${i}`) !== undefined) hits++;
    expect(hits).toBeGreaterThanOrEqual(2_800);
    expect(hits).toBeLessThanOrEqual(3_200);
    expect(chaos.snapshot()).toMatchObject({ requests: 10_000, injected: { r1: hits } });
  });

  it('never fires at 0 %, always at 100 %, never when disabled', () => {
    const chaos = createChaos({ enabled: true, rules: [rule(0, { path: '/never' }), rule(100, { path: '/always' })] });
    for (let i = 0; i < 1_000; i++) {
      expect(chaos.pick('GET', '/never')).toBeUndefined();
      expect(chaos.pick('GET', '/always')?.rule.id).toBe('r2');
    }
    chaos.disable();
    for (let i = 0; i < 1_000; i++) expect(chaos.pick('GET', '/always')).toBeUndefined();
    expect(chaos.snapshot()).toMatchObject({ requests: 2_000, injected: { r1: 0, r2: 1_000 } });
  });

  it('takes the first matching rule whose roll hits, in order; the next one gets its chance otherwise', () => {
    const chaos = createChaos({
      enabled: true,
      rules: [rule(50, { id: 'half', path: '/a' }), rule(100, { id: 'rest', path: '/a' }), rule(100, { id: 'late', path: '/a' })],
    });
    const ids = new Set<string>();
    for (let i = 0; i < 200; i++) ids.add(chaos.pick('GET', '/a')!.rule.id!);
    expect([...ids].sort()).toEqual(['half', 'rest']);
  });

  it('matches methods (case-insensitively, * for any) and paths: exact, :param, prefix, *, or the route pattern', () => {
    const chaos = createChaos({
      enabled: true,
      rules: [
        rule(100, { id: 'post', method: 'post', path: '/charges' }),
        rule(100, { id: 'user', path: '/users/:id' }),
        rule(100, { id: 'admin', path: '/admin/*' }),
        rule(100, { id: 'deep', path: '/orders/:id/items/*' }),
      ],
    });
    const id = (method: string, path: string, route?: string): string | undefined => chaos.pick(method, path, route)?.rule.id;
    expect(id('POST', '/charges')).toBe('post');
    expect(id('Post', '/charges')).toBe('post');
    expect(id('GET', '/charges')).toBeUndefined();
    expect(id('POST', '/charges/1')).toBeUndefined();
    expect(id('GET', '/users/42')).toBe('user');
    expect(id('GET', '/users/')).toBeUndefined();
    expect(id('GET', '/users/42/friends')).toBeUndefined();
    expect(id('GET', '/admin')).toBe('admin');
    expect(id('GET', '/admin/x/y')).toBe('admin');
    expect(id('GET', '/administrator')).toBeUndefined();
    expect(id('GET', '/orders/7/items')).toBe('deep');
    expect(id('GET', '/orders/7/items/3')).toBe('deep');
    expect(id('GET', '/orders/7')).toBeUndefined();
    // A rule on a route pattern matches a request whose route is that pattern.
    expect(id('GET', '/u/42', '/users/:id')).toBe('user');
    const star = createChaos({ enabled: true, rules: [rule(100, { path: '*' })] });
    expect(star.pick('DELETE', '/anything/at/all')?.rule.id).toBe('r1');
  });

  it('publishes each injected fault on lifeline:chaos:fault', () => {
    const seen: unknown[] = [];
    const listener = (message: unknown): void => void seen.push(message);
    subscribe('lifeline:chaos:fault', listener);
    try {
      const chaos = createChaos({ enabled: true, rules: [rule(100, { path: '/a' })] });
      chaos.pick('GET', '/a');
      chaos.pick('GET', '/b');
    } finally {
      unsubscribe('lifeline:chaos:fault', listener);
    }
    expect(seen).toEqual([{ rule: expect.objectContaining({ id: 'r1' }), fault: { type: 'reset' }, method: 'GET', path: '/a' }]);
  });
});

describe('Chaos.delayFor', () => {
  const chaos = createChaos({ seed: 123 });
  const draws = (fault: LatencyFault, n = 10_000): number[] => Array.from({ length: n }, () => chaos.delayFor(fault)).sort((a, b) => a - b);

  it('returns a fixed delay exactly', () => {
    expect(new Set(draws({ type: 'latency', ms: 250 }, 100))).toEqual(new Set([250]));
  });

  it('draws uniformly within [min, max]', () => {
    const values = draws({ type: 'latency', min: 100, max: 300 });
    expect(values[0]).toBeGreaterThanOrEqual(100);
    expect(values.at(-1)).toBeLessThanOrEqual(300);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean).toBeGreaterThan(195);
    expect(mean).toBeLessThan(205);
    expect(values[2_500]).toBeGreaterThan(140); // the lower quartile is near 150, not bunched at the ends
    expect(values[2_500]).toBeLessThan(160);
  });

  it('draws log-normally with the given median and p99 (± 15 %)', () => {
    const values = draws({ type: 'latency', median: 100, p99: 1_000 });
    const median = values[5_000]!;
    const p99 = values[9_900]!;
    expect(median).toBeGreaterThan(85);
    expect(median).toBeLessThan(115);
    expect(p99).toBeGreaterThan(850);
    expect(p99).toBeLessThan(1_150);
    expect(values[0]).toBeGreaterThan(0);
  });

  it('draws a constant when p99 equals the median', () => {
    expect(new Set(draws({ type: 'latency', median: 40, p99: 40 }, 100))).toEqual(new Set([40]));
  });
});

describe('Chaos rules at run time', () => {
  it('set validates everything first and keeps the old rules on error', () => {
    const chaos = createChaos({ enabled: true, rules: [rule(5, { id: 'keep' })] });
    expect(() => chaos.set([rule(10), { ...rule(10), percent: 101 }])).toThrow('rules[1].percent: must be a number from 0 to 100, got 101');
    expect(chaos.rules().map((r) => r.id)).toEqual(['keep']);
    expect(chaos.set([rule(10), rule(20)]).map((r) => r.id)).toEqual(['r1', 'r2']);
  });

  it('add assigns ids that are not reused; remove and clear; the counters follow the rules', () => {
    const chaos = createChaos({ enabled: true, rules: [rule(100, { path: '/a' }), rule(100, { id: 'r7', path: '/b' })] });
    chaos.pick('GET', '/a');
    expect(chaos.add(rule(100, { path: '/c' }))).toEqual({ id: 'r8', method: '*', path: '/c', percent: 100, fault: { type: 'reset' } });
    expect(() => chaos.add(rule(1, { id: 'r1' }))).toThrow("rule.id: 'r1' is already in use");
    expect(() => chaos.add({ path: '/x', percent: 1 })).toThrow('rule.fault: is required');
    expect(chaos.snapshot().injected).toEqual({ r1: 1, r7: 0, r8: 0 });
    expect(chaos.remove('r8')).toBe(true);
    expect(chaos.remove('r8')).toBe(false);
    expect(chaos.add(rule(1)).id).toBe('r9');
    chaos.clear();
    expect(chaos.rules()).toEqual([]);
    expect(chaos.snapshot()).toEqual({ enabled: true, seed: 1, rules: [], injected: {}, requests: 1 });
  });

  it('hands out copies: changing what rules() or pick() returned changes nothing', () => {
    const chaos = createChaos({ enabled: true, rules: [rule(100, { path: '/a' })] });
    chaos.rules()[0]!.percent = 0;
    const picked = chaos.pick('GET', '/a')!;
    expect(() => {
      (picked.rule as { percent: number }).percent = 0;
    }).toThrow(TypeError);
    expect(chaos.pick('GET', '/a')).toBeDefined();
  });

  it('reports every change on onChange with a snapshot, and logs enabling as a warning', () => {
    const logs: [string, string][] = [];
    const logger = { warn: (_o: object, m: string) => void logs.push(['warn', m]), info: (_o: object, m: string) => void logs.push(['info', m]) };
    const chaos = createChaos({ logger });
    const seen: ChaosSnapshot[] = [];
    const subscription = chaos.onChange((snapshot) => seen.push(snapshot));
    chaos.enable();
    chaos.enable();
    chaos.add(rule(1));
    chaos.set([rule(2), rule(3)]);
    chaos.remove('r1');
    chaos.clear();
    chaos.disable();
    subscription.dispose();
    chaos.enable();
    expect(seen.map((s) => [s.enabled, s.rules.length])).toEqual([
      [true, 0],
      [true, 1],
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(logs.filter(([level]) => level === 'warn')).toEqual([
      ['warn', 'chaos: fault injection enabled'],
      ['warn', 'chaos: fault injection enabled'],
    ]);
    expect(logs).toContainEqual(['info', 'chaos: rules changed']);
    expect(logs).toContainEqual(['info', 'chaos: fault injection disabled']);
  });
});
