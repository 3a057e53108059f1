import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { rateLimited } from '../http/problems.ts';

// Addresses remembered per username as "this user logged in from here", and usernames remembered:
// at most 100,000 × 5 addresses, the oldest forgotten first.
const KNOWN_ADDRESSES_PER_USER = 5;
const USERS_REMEMBERED = 100_000;

/**
 * Password guesses — at login and as `currentPassword` — per client address and per username.
 * Each guess is counted *before* the password is checked, atomically, so parallel guesses cannot
 * all slip in under the limit.
 *
 * - Every address gets `failures` guesses per window, whatever usernames they name.
 * - Every username gets `failures` guesses per window from addresses it never logged in from.
 *   Addresses the user logged in from successfully before (the last five, per node) are exempt
 *   from this per-username count, so an attacker elsewhere can hold a victim's username for new
 *   addresses while the attack lasts, but never keep the victim out of their own.
 * A spent key waits out its window (a back-off, not a lock). A successful guess is not counted.
 */
export class LoginThrottle {
  private readonly limiter: RateLimiterMemory;
  private readonly knownAddresses = new Map<string, string[]>();

  constructor(failures: number, windowMs: number) {
    this.limiter = new RateLimiterMemory({ points: failures, duration: Math.ceil(windowMs / 1000) });
  }

  private keys(username: string, ip: string): string[] {
    const user = username.toLowerCase();
    const known = this.knownAddresses.get(user)?.includes(ip) ?? false;
    return known ? [`ip:${ip}`] : [`ip:${ip}`, `user:${user}`];
  }

  /** Counts one guess, or throws 429 when the address or the username has used up its guesses. */
  async attempt(username: string, ip: string): Promise<void> {
    for (const key of this.keys(username, ip)) {
      try {
        await this.limiter.consume(key);
      } catch (res) {
        if (!(res instanceof RateLimiterRes)) throw res;
        throw rateLimited('Too many failed logins. Wait before trying again.', res.msBeforeNext / 1000);
      }
    }
  }

  /** The guess was right: it does not count, the username's count is cleared and the address known. */
  async succeeded(username: string, ip: string): Promise<void> {
    const user = username.toLowerCase();
    await this.limiter.reward(`ip:${ip}`, 1);
    await this.limiter.delete(`user:${user}`);
    const addresses = (this.knownAddresses.get(user) ?? []).filter((a) => a !== ip);
    addresses.unshift(ip);
    this.knownAddresses.delete(user);
    this.knownAddresses.set(user, addresses.slice(0, KNOWN_ADDRESSES_PER_USER));
    if (this.knownAddresses.size > USERS_REMEMBERED) {
      this.knownAddresses.delete(this.knownAddresses.keys().next().value as string);
    }
  }
}
