export { runScenarioCommand, runScenarios, USAGE, violations, writeReport, writesCommitted } from './command.ts';
export { scenarioMarkdown } from './markdown.ts';
export { recoveryTime, RECOVERED_SHARE, RECOVERY_MIN_CALLS } from './metrics.ts';
export { FULL, SHORT } from './params.ts';
export { runScenario, type RunOptions } from './runner.ts';
export { SCENARIO_NAMES, SCENARIOS, type Scenario } from './scenarios.ts';
export { scenarioSvg } from './svg.ts';
export { terminalTable } from './table.ts';
export type { CallStats, Mode, RunResult, ScenarioName, ScenarioParams, ScenarioReport, SeriesPoint } from './types.ts';
