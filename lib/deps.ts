import type { Logger } from 'pino';
import type { Config } from './config.ts';
import type { Deliveries } from './delivery.ts';
import type { Bus } from './events/bus.ts';
import type { EventHub } from './events/hub.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { Presence } from './presence.ts';
import type { RateLimits } from './rate-limits.ts';
import type { Sessions } from './sessions.ts';
import type { Db } from './store/db.ts';

/** Everything a request handler may use, built once in startParley() and passed down. */
export interface Deps {
  config: Config;
  db: Db;
  bus: Bus;
  hub: EventHub;
  log: Logger;
  /** Session tokens: create, authenticate (cached per node), revoke. */
  sessions: Sessions;
  loginThrottle: LoginThrottle;
  rateLimits: RateLimits;
  /** Who is online (lib/presence.ts); the event routes report connections to it. */
  presence: Presence;
  /** Delivered marks (lib/delivery.ts): SSE writes and poll cursors report to it. */
  deliveries: Deliveries;
  /** The OpenAPI document, built once from the routes. */
  openapi: object;
}
