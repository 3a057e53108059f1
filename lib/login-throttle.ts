import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from './errors.ts';

/**
 * Counts failed logins per username and per client address. A blocked key waits out the window
 * (back-off, not a permanent lock), so nobody can lock a victim out for good.
 */
export class LoginThrottle {
  private readonly limiter: RateLimiterMemory;

  constructor(failures: number, windowMs: number) {
    this.limiter = new RateLimiterMemory({ points: failures, duration: Math.ceil(windowMs / 1000) });
  }

  private keys(username: string, ip: string): string[] {
    return [`user:${username.toLowerCase()}`, `ip:${ip}`];
  }

  /** Throws 429 when either key has used up its failures. */
  async check(username: string, ip: string): Promise<void> {
    for (const key of this.keys(username, ip)) {
      const res = await this.limiter.get(key);
      if (res && res.remainingPoints <= 0) {
        throw rateLimited('Too many failed logins. Wait before trying again.', res.msBeforeNext / 1000);
      }
    }
  }

  async recordFailure(username: string, ip: string): Promise<void> {
    for (const key of this.keys(username, ip)) {
      await this.limiter.consume(key).catch((res: unknown) => {
        if (!(res instanceof RateLimiterRes)) throw res;
      });
    }
  }

  async recordSuccess(username: string): Promise<void> {
    await this.limiter.delete(`user:${username.toLowerCase()}`);
  }
}
