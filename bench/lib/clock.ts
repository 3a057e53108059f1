import { performance } from 'node:perf_hooks';

/**
 * Wall-clock milliseconds with sub-millisecond resolution that agree across processes on one
 * machine. performance.timeOrigin is not reliable for that (it can be off by hundreds of ms between
 * processes started under load), so the monotonic clock is anchored to the exact moment Date.now()
 * ticks over to a new millisecond.
 */
const anchor = (() => {
  const first = Date.now();
  let tick = first;
  while (tick === first) tick = Date.now();
  return tick - performance.now();
})();

export const now = (): number => anchor + performance.now();
