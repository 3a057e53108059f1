import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import packageJson from '../package.json' with { type: 'json' };
import { createApp } from './app.ts';
import { type Config, loadConfig, resolveSessionSecret } from './config.ts';
import { DeliveryRecorder, NO_DELIVERIES } from './delivery.ts';
import type { Deps } from './deps.ts';
import { LocalBus } from './events/bus.ts';
import { EventHub } from './events/hub.ts';
import { PgBus } from './events/pg-bus.ts';
import { startRetention } from './events/retention.ts';
import { LoginThrottle } from './login-throttle.ts';
import { NO_PRESENCE, PresenceTracker } from './presence.ts';
import { RateLimits } from './rate-limits.ts';
import { Sessions } from './sessions.ts';
import { migrate, openDatabase } from './store/db.ts';

export interface RunningParley {
  url: string;
  port: number;
  server: Server;
  deps: Omit<Deps, 'openapi'>;
  /** Ends streams and polls, stops accepting, finishes in-flight requests, closes the database. */
  close(): Promise<void>;
}

/** Builds everything from the config and listens: config → db → migrate → bus → listen. */
export async function startParley(config: Config): Promise<RunningParley> {
  const log = pino({ level: config.logLevel, base: { service: 'parley' } });
  const { secret, source } = resolveSessionSecret(config);
  if (source === 'generated')
    log.info({ dir: config.dataDir }, 'generated a session secret and saved it in the data folder');
  const db = openDatabase(config.database);
  await migrate(db);
  // One node: the in-process bus. Several nodes share PostgreSQL, and its LISTEN/NOTIFY wakes them all.
  const bus =
    config.database.client === 'postgres' ? await PgBus.connect(db, config.database, log) : new LocalBus();
  const hub = new EventHub(db, bus, log);
  await hub.start();
  const presence = config.presenceEnabled
    ? new PresenceTracker({ db, bus, log }, config.presenceWindowMs, config.presenceGraceMs)
    : NO_PRESENCE;
  if (presence instanceof PresenceTracker) await presence.start();
  const deliveries =
    config.deliveryFlushMs > 0
      ? new DeliveryRecorder({ db, bus, log }, config.deliveryFlushMs)
      : NO_DELIVERIES;
  const deps = {
    config,
    db,
    bus,
    hub,
    log,
    sessions: new Sessions(
      { db, bus },
      {
        secret,
        ttlMs: config.sessionTtlMs,
        trustMs: config.sessionCacheMs,
      },
    ),
    loginThrottle: new LoginThrottle(config.loginFailuresPerWindow, config.loginFailureWindowMs),
    rateLimits: new RateLimits(config.rateLimits),
    presence,
    deliveries,
  };
  const app = createApp(deps, packageJson.version);
  const { requestMs, headersMs, keepAliveMs, idleSocketMs } = config.httpTimeouts;
  const server = createServer(
    {
      requestTimeout: requestMs,
      headersTimeout: headersMs,
      keepAliveTimeout: keepAliveMs,
      // How often Node looks for requests past those timeouts: often enough to honour short ones.
      connectionsCheckingInterval: checkingInterval(requestMs, headersMs),
    },
    app.callback(),
  );
  server.timeout = idleSocketMs;
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const stopRetention = startRetention(db, config.eventRetentionMs, log);
  const { port } = server.address() as AddressInfo;
  log.info({ port, database: config.database.client }, `Parley listening on http://localhost:${port}`);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopRetention();
      await hub.stop();
      await bus.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await presence.stop();
      await deliveries.stop();
      await db.destroy();
    })();
    return closing;
  };
  return { url: `http://127.0.0.1:${port}`, port, server, deps, close };
}

/** Node checks for requests past their timeout every 30 s by default; short timeouts need it sooner. */
function checkingInterval(...timeoutsMs: number[]): number {
  const shortest = Math.min(30_000, ...timeoutsMs.filter((t) => t > 0));
  return Math.max(250, Math.floor(shortest / 4));
}

/** The process entry point: run until SIGTERM or SIGINT, then shut down in order. */
export async function main(): Promise<void> {
  const parley = await startParley(loadConfig());
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      parley.deps.log.info({ signal }, 'shutting down');
      parley.close().then(
        () => process.exit(0),
        (err) => {
          parley.deps.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err instanceof Error && err.name === 'ConfigError' ? err.message : err);
    process.exit(1);
  });
}
