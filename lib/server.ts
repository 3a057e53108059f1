import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import packageJson from '../package.json' with { type: 'json' };
import { createApp } from './app.ts';
import { DeliveryRecorder, NO_DELIVERIES } from './chat/delivered-marks.ts';
import { NO_PRESENCE, PresenceTracker } from './chat/presence.ts';
import { type Config, type DatabaseTarget, loadConfig, resolveSessionSecret } from './config.ts';
import type { Deps } from './deps.ts';
import { openDatabase } from './dialects/index.ts';
import { EventHub } from './events/hub.ts';
import { startRetention } from './events/retention.ts';
import { createMetrics } from './metrics.ts';
import { PushDispatcher, pushTurnedOff } from './push/dispatcher.ts';
import { resolveVapidKeys } from './push/vapid.ts';
import { LoginThrottle } from './security/login-throttle.ts';
import { RateLimits } from './security/rate-limits.ts';
import { startSessionPurge } from './security/session-purge.ts';
import { Sessions } from './security/sessions.ts';

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
  const log = pino(
    { level: config.logLevel, base: { service: 'parley' } },
    // A person at a terminal reads lines; a collector (stdout piped or redirected) reads JSON.
    process.stdout.isTTY ? pino.transport({ target: 'pino-pretty', options: { colorize: true } }) : undefined,
  );
  const { secret, source } = resolveSessionSecret(config);
  if (source === 'generated')
    log.info({ dir: config.dataDir }, 'generated a session secret and saved it in the data folder');
  const { db, dialect } = openDatabase(config.database);
  await dialect.migrate(db);
  const maintenance = dialect.startMaintenance(config.database, log);
  const bus = await dialect.connectBus(db, config.database, log);
  const hub = new EventHub(db, bus, log, {
    presenceGroupLimit: config.presenceGroupLimit,
    eventRetentionMs: config.eventRetentionMs,
  });
  await hub.start();
  const presence = config.presenceEnabled
    ? new PresenceTracker({ db, bus, log }, config.presenceWindowMs, config.presenceGraceMs)
    : NO_PRESENCE;
  if (presence instanceof PresenceTracker) await presence.start();
  const deliveries =
    config.deliveryFlushMs > 0
      ? new DeliveryRecorder({ db, bus, log }, config.deliveryFlushMs)
      : NO_DELIVERIES;
  const vapid = resolveVapidKeys(config);
  if (vapid.source === 'generated')
    log.info({ dir: config.dataDir }, 'generated a VAPID key pair and saved it in the data folder');
  const push = config.push.enabled
    ? new PushDispatcher(
        { db, bus, log },
        {
          vapid: vapid.keys,
          previews: config.push.previews,
          concurrency: config.push.concurrency,
          originConcurrency: config.push.originConcurrency,
          deviceLimit: config.push.deviceLimit,
          deviceWindowMs: config.push.deviceWindowMs,
          timeoutMs: config.push.timeoutMs,
          allowPrivateEndpoints: config.push.allowPrivateEndpoints,
          pollWindowMs: config.presenceWindowMs,
          streamGraceMs: config.presenceGraceMs,
        },
      )
    : pushTurnedOff(vapid.keys.publicKey);
  if (push instanceof PushDispatcher) await push.start();
  const deps = {
    config,
    metrics: config.metricsToken ? createMetrics({ db, hub }) : null,
    push,
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
  const stopSessionPurge = startSessionPurge(db, log);
  const { port } = server.address() as AddressInfo;
  const database = describeDatabase(config.database);
  log.info(
    { port, database, version: packageJson.version },
    `Parley ${packageJson.version} listening on http://${config.host ?? 'localhost'}:${port} (database: ${database})`,
  );

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      stopRetention();
      stopSessionPurge();
      await hub.stop();
      await bus.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await closed;
      await presence.stop();
      await deliveries.stop();
      await push.stop();
      await maintenance.stop();
      await db.destroy();
    })();
    return closing;
  };
  return { url: `http://127.0.0.1:${port}`, port, server, deps, close };
}

/** Where the data is, for the startup line: the SQLite file, or PostgreSQL's host/database — never a password. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.client === 'sqlite') return `SQLite ${target.filename}`;
  const url = new URL(target.connectionString);
  const schema = target.schema ? ` (schema ${target.schema})` : '';
  return `PostgreSQL ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}${schema}`;
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

// Run directly (npm start), not imported. Compared as real paths, not URLs: a URL percent-encodes a
// space in the checkout's path, and Node names the main module by its real path past symlinks.
const isEntryPoint = (): boolean =>
  process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);

if (isEntryPoint()) {
  main().catch((err) => {
    console.error(err instanceof Error && err.name === 'ConfigError' ? err.message : err);
    process.exit(1);
  });
}
