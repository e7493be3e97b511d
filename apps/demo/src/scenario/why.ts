import type { ScenarioName } from './types.ts';

/**
 * Why Lifeline can do worse than the naive client on a figure, by scenario and figure (or by
 * figure alone): the mechanism, so that the report explains a loss instead of hiding it. The
 * report prints one only where the measured figures show the loss.
 */
const REASONS: Record<string, string> = {};

/** The reason for a loss on `metric` in `scenario`, or a plain admission when there is none on file. */
export function whyWorse(scenario: ScenarioName, metric: string): string {
  return REASONS[`${scenario}.${metric}`] ?? REASONS[metric] ?? 'no explanation on file; the per-second series in scenarios.json shows how it went.';
}
