import { percentile, type CallRecord } from '../traffic.ts';
import type { CallStats, SeriesPoint } from './types.ts';

/** The caller's view of some order calls: accepted (201/202), paid at once (201), p99. */
export function callStats(calls: readonly CallRecord[]): CallStats {
  let paidAtOnce = 0;
  let pending = 0;
  for (const call of calls) {
    if (call.status === 201) paidAtOnce++;
    else if (call.status === 202) pending++;
  }
  const accepted = paidAtOnce + pending;
  return {
    calls: calls.length,
    accepted,
    paidAtOnce,
    pending,
    failed: calls.length - accepted,
    successRate: calls.length === 0 ? null : accepted / calls.length,
    p99Ms: percentile(calls.map((c) => c.end - c.start), 99) ?? null,
  };
}

/** The calls that started in [from, to), epoch ms. */
export function startedIn(calls: readonly CallRecord[], from: number, to: number): CallRecord[] {
  return calls.filter((c) => c.start >= from && c.start < to);
}

/** One-second windows of calls by start time, from `origin` to `end` (epoch ms). */
export function series(calls: readonly CallRecord[], origin: number, end: number): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  for (let t = origin; t < end; t += 1_000) {
    const s = callStats(startedIn(calls, t, Math.min(t + 1_000, end)));
    points.push({ t: t - origin, calls: s.calls, paidAtOnce: s.paidAtOnce, pending: s.pending, failed: s.failed, p99Ms: s.p99Ms });
  }
  return points;
}

/** What counts as recovered: at least this share of a 1 s span's calls paid at once. */
export const RECOVERED_SHARE = 0.95;
/** A span needs this many calls to count (a quiet second proves nothing). */
export const RECOVERY_MIN_CALLS = 5;

/**
 * Time to recover: ms from `clearedAt` (the fault taken away) to the start of the first span
 * of 1 s of calls — calls started in [s, s + 1 s), s being a call's start — of which at least
 * 95 % were answered 201 paid at once, with at least 5 calls in the span. Undefined ("not
 * within the run") when no such span starts and ends before `stoppedAt`.
 *
 * Paid at once, not merely accepted: a 202 pending_payment keeps the caller's order safe, but
 * payment is not working for it yet; recovered means charges go through on the first try again.
 *
 * @example
 * recoveryTime(calls, clearedAt, stoppedAt); // 1 240, or undefined
 */
export function recoveryTime(calls: readonly CallRecord[], clearedAt: number, stoppedAt: number): number | undefined {
  const after = calls.filter((c) => c.start >= clearedAt && c.start < stoppedAt).sort((a, b) => a.start - b.start);
  let end = 0;
  let paid = 0;
  for (let i = 0; i < after.length; i++) {
    const spanStart = after[i]!.start;
    if (spanStart + 1_000 > stoppedAt) break;
    while (end < after.length && after[end]!.start < spanStart + 1_000) {
      if (after[end]!.status === 201) paid++;
      end++;
    }
    const n = end - i;
    if (n >= RECOVERY_MIN_CALLS && paid >= RECOVERED_SHARE * n) return spanStart - clearedAt;
    if (after[i]!.status === 201) paid--;
  }
  return undefined;
}
