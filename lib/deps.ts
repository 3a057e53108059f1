import type { Logger } from 'pino';
import type { Deliveries } from './chat/delivered-marks.ts';
import type { Presence } from './chat/presence.ts';
import type { Config } from './config.ts';
import type { Bus } from './events/bus.ts';
import type { EventHub } from './events/hub.ts';
import type { Metrics } from './metrics.ts';
import type { PushService } from './push/dispatcher.ts';
import type { LoginThrottle } from './security/login-throttle.ts';
import type { RateLimits } from './security/rate-limits.ts';
import type { Sessions } from './security/sessions.ts';
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
  /** Offline notifications (lib/push/): the VAPID key, and which devices are live. */
  push: PushService;
  /** Prometheus metrics (lib/metrics.ts); null unless METRICS_TOKEN is set. */
  metrics: Metrics | null;
  /** The OpenAPI document, built once from the routes. */
  openapi: object;
}
