/** How long to wait between failed attempts: exponential, with full jitter, capped. */
export interface BackoffOptions {
  /** The first wait's upper bound. Default 500 ms. */
  initialMs?: number;
  /** No wait is longer than this, except what a `Retry-After` asks for. Default 30 s. */
  maxMs?: number;
}

// A Retry-After beyond this is taken as a mistake (a date far off, a clock skew) rather than obeyed
// for hours; the client still waits this long.
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * The wait before attempt `failures` + 1. Full jitter — a random wait between zero and the
 * exponential bound — spreads the clients that a restart disconnected all at once.
 */
export function backoffDelay(failures: number, options: BackoffOptions = {}, random = Math.random): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 30_000;
  const bound = Math.min(max, initial * 2 ** Math.min(failures, 30));
  return Math.round(random() * bound);
}

/**
 * The wait a server asked for with `Retry-After` (seconds or an HTTP date), plus up to a tenth more
 * so that clients told the same time do not all return in the same instant. Undefined when the
 * header is absent or unreadable.
 */
export function retryAfterDelay(
  header: string | null,
  now = Date.now(),
  random = Math.random,
): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - now;
  if (!Number.isFinite(ms)) return undefined;
  const wait = Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
  return Math.round(wait + random() * wait * 0.1);
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
