// @ts-check
// The page's only mutable state, in one place: what came from the server, what is drawn,
// and what the user did (folded traces, paused traces, the chart's crosshair).
/** @import { DashboardState, TraceView } from '../src/state.ts' */

/**
 * @typedef {object} Store
 * @property {DashboardState | undefined} state The last state received.
 * @property {number} lastStateAt Epoch ms it arrived; 0 before the first.
 * @property {boolean} renderQueued A redraw waits for the next animation frame.
 * @property {Map<string, string>} drawn Each section's key of its last drawing; the same key means nothing to redraw.
 * @property {Set<string>} openTraces Traces the user unfolded.
 * @property {Set<string>} closedTraces Traces the user folded.
 * @property {number | undefined} hoverT The chart crosshair's time, or undefined.
 * @property {number} hoverFrame The animation frame that redraws the crosshair; 0 when none is pending.
 * @property {{ list: TraceView[], t: number } | undefined} shownTraces The traces on screen and the state time they came with.
 * @property {number} shownTracesAt Epoch ms they were taken over.
 * @property {boolean} tracesPaused
 * @property {boolean} tracesHovered
 * @property {ReturnType<typeof setTimeout> | undefined} messageTimer Hides the toast.
 * @property {Set<string>} pendingActions Fault actions sent and not answered yet (`kill:payment-1`).
 */

/** @type {Store} */
export const store = {
  state: undefined,
  lastStateAt: 0,
  renderQueued: false,
  drawn: new Map(),
  openTraces: new Set(),
  closedTraces: new Set(),
  hoverT: undefined,
  hoverFrame: 0,
  shownTraces: undefined,
  shownTracesAt: 0,
  tracesPaused: false,
  tracesHovered: false,
  messageTimer: undefined,
  pendingActions: new Set(),
};
