import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../config.ts';
import { rateLimited } from '../http/problems.ts';

/** At most `points` actions per `windowSeconds` for one key; `points: 0` turns the limit off. */
export interface RateLimitSetting {
  points: number;
  windowSeconds: number;
}

/**
 * One fixed-window counter per key (a user id, a client address). Memory is bounded by the keys
 * active within one window: rate-limiter-flexible drops a key when its window ends.
 *
 * The counters live in this process. Behind a load balancer with N nodes a client can reach N
 * times the limit; that is the price of needing no shared store, and still stops a flood.
 */
export class RateLimit {
  private readonly limiter: RateLimiterMemory | null;

  constructor(
    readonly setting: RateLimitSetting,
    private readonly message: string,
  ) {
    this.limiter =
      setting.points > 0
        ? new RateLimiterMemory({ points: setting.points, duration: setting.windowSeconds })
        : null;
  }

  /** Counts `points` actions for `key`, or throws 429 with Retry-After once the window's points are spent. */
  async take(key: string | number, points = 1): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(String(key), points);
    } catch (res) {
      if (!(res instanceof RateLimiterRes)) throw res;
      throw rateLimited(this.message, res.msBeforeNext / 1000);
    }
  }
}

/** The request-rate limits besides failed logins (LoginThrottle) and open streams (the event hub). */
export class RateLimits {
  /** Accounts created per client address. */
  readonly registrations: RateLimit;
  /** Messages sent per user, across all their conversations. */
  readonly messages: RateLimit;
  /** Typing notifications per user. */
  readonly typing: RateLimit;
  /** Key packages claimed per user (one point per user named): key-package exhaustion is an attack. */
  readonly keyPackageClaims: RateLimit;
  /** Groups created per user. */
  readonly groups: RateLimit;
  /** Users named when creating a group or adding members, per caller: the work grows with them. */
  readonly memberAdds: RateLimit;

  constructor(limits: Config['rateLimits']) {
    this.registrations = new RateLimit(
      limits.registrations,
      'Too many accounts created from this address. Wait before trying again.',
    );
    this.messages = new RateLimit(
      limits.messages,
      'You are sending messages too fast. Wait before sending more.',
    );
    this.typing = new RateLimit(
      limits.typing,
      'Too many typing notifications. Send at most one every few seconds.',
    );
    this.keyPackageClaims = new RateLimit(
      limits.keyPackageClaims,
      'You are claiming key packages too fast. Wait before claiming more.',
    );
    this.groups = new RateLimit(
      limits.groups,
      'You are creating groups too fast. Wait before creating more.',
    );
    this.memberAdds = new RateLimit(
      limits.memberAdds,
      'You are adding members too fast. Wait before adding more.',
    );
  }

  /**
   * Counts a change to who is in a group: a new group (when `group`) and each user it names. One
   * request may name more users than a window allows (a group of MAX_GROUP_MEMBERS): it then
   * spends the whole window rather than never succeeding.
   */
  async takeMembership(userId: number, change: { group: boolean; users: number }): Promise<void> {
    if (change.group) await this.groups.take(userId);
    const { points } = this.memberAdds.setting;
    if (points > 0 && change.users > 0) await this.memberAdds.take(userId, Math.min(change.users, points));
  }
}
