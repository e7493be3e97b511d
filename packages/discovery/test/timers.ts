/** Counts timers set and not yet fired or cleared, ref'd or not (getActiveResourcesInfo sees only ref'd ones). */
export function trackTimers(): { pending: () => number; restore: () => void } {
  const live = new Set<unknown>();
  const { setTimeout: set, clearTimeout: clear } = globalThis;
  globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = set(() => {
      live.delete(timer);
      fn(...args);
    }, ms);
    live.add(timer);
    return timer;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((timer: NodeJS.Timeout | undefined) => {
    live.delete(timer);
    clear(timer);
  }) as typeof clearTimeout;
  return {
    pending: () => live.size,
    restore: () => Object.assign(globalThis, { setTimeout: set, clearTimeout: clear }),
  };
}
