import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

/** Where the database lives: one SQLite file (or memory), or a PostgreSQL server. */
export type DatabaseTarget =
  | { client: 'sqlite'; filename: string }
  | { client: 'postgres'; connectionString: string; schema: string | undefined };

export interface Config {
  port: number;
  host: string | undefined;
  database: DatabaseTarget;
  dataDir: string;
  /** Null until resolveSessionSecret() fills it from the environment or the data folder. */
  sessionSecret: string | null;
  sessionTtlMs: number;
  /** How long a node trusts a session it checked before reading its row again (0: every request). */
  sessionCacheMs: number;
  cookieSecure: boolean;
  corsOrigins: string[];
  trustProxy: boolean;
  logLevel: string;
  eventRetentionMs: number;
  heartbeatMs: number;
  pollBatchSize: number;
  streamsPerUser: number;
  /** Bytes an SSE connection may have queued in its socket before it is cut off as too slow. */
  streamBufferBytes: number;
  /** Node's HTTP server timeouts (0 = none); event streams and waiting polls are exempt by design. */
  httpTimeouts: { requestMs: number; headersMs: number; keepAliveMs: number; idleSocketMs: number };
  loginFailuresPerWindow: number;
  loginFailureWindowMs: number;
  /** Actions per window per key (lib/rate-limits.ts); 0 points = no limit. */
  rateLimits: {
    registrations: { points: number; windowSeconds: number };
    messages: { points: number; windowSeconds: number };
    typing: { points: number; windowSeconds: number };
  };
  /** Most current members a group may have. */
  maxGroupMembers: number;
  /** Presence tracking and presence.updated events (specs turn it off to keep streams quiet). */
  presenceEnabled: boolean;
  /** A poll keeps its user online this long after it ends (clients poll again at once). */
  presenceWindowMs: number;
  /** A closed stream keeps its user online this long, so a quick reconnect is not a transition. */
  presenceGraceMs: number;
  /** How often delivered marks are written, in one batch; 0 turns delivered tracking off. */
  deliveryFlushMs: number;
}

const DAY_MS = 86_400_000;

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const positiveInt = z.coerce.number().int().positive();

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).optional(),
  DATABASE_URL: z.string().min(1).default('sqlite:./data/parley.db'),
  DATA_DIR: z.string().min(1).default('./data'),
  SESSION_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  SESSION_TTL_DAYS: positiveInt.default(30),
  SESSION_CACHE_SECONDS: z.coerce.number().min(0).default(10),
  COOKIE_SECURE: boolean.default(false),
  CORS_ORIGINS: z.string().default(''),
  TRUST_PROXY: boolean.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  EVENT_RETENTION_DAYS: z.coerce.number().positive().default(7),
  SSE_HEARTBEAT_MS: positiveInt.default(15_000),
  POLL_BATCH_SIZE: positiveInt.max(5000).default(500),
  STREAMS_PER_USER: positiveInt.default(20),
  STREAM_BUFFER_BYTES: positiveInt.default(1024 * 1024),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(0).default(300_000),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(0).default(60_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(0).default(5_000),
  HTTP_IDLE_SOCKET_TIMEOUT_MS: z.coerce.number().int().min(0).default(0),
  LOGIN_FAILURES_PER_WINDOW: positiveInt.default(10),
  LOGIN_FAILURE_WINDOW_SECONDS: positiveInt.default(60),
  REGISTRATIONS_PER_WINDOW: z.coerce.number().int().min(0).default(20),
  REGISTRATION_WINDOW_SECONDS: positiveInt.default(3600),
  MESSAGES_PER_WINDOW: z.coerce.number().int().min(0).default(60),
  MESSAGE_WINDOW_SECONDS: positiveInt.default(10),
  TYPING_PER_WINDOW: z.coerce.number().int().min(0).default(20),
  TYPING_WINDOW_SECONDS: positiveInt.default(10),
  MAX_GROUP_MEMBERS: positiveInt.default(1000),
  PRESENCE_ENABLED: boolean.default(true),
  PRESENCE_WINDOW_MS: positiveInt.default(40_000),
  PRESENCE_GRACE_MS: positiveInt.default(5_000),
  DELIVERY_FLUSH_MS: z.coerce.number().int().min(0).default(1_000),
});

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the environment into a frozen Config, reporting every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    database: parseDatabaseUrl(e.DATABASE_URL),
    dataDir: resolve(e.DATA_DIR),
    sessionSecret: e.SESSION_SECRET ?? null,
    sessionTtlMs: e.SESSION_TTL_DAYS * DAY_MS,
    sessionCacheMs: e.SESSION_CACHE_SECONDS * 1000,
    cookieSecure: e.COOKIE_SECURE,
    corsOrigins: e.CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean),
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    eventRetentionMs: e.EVENT_RETENTION_DAYS * DAY_MS,
    heartbeatMs: e.SSE_HEARTBEAT_MS,
    pollBatchSize: e.POLL_BATCH_SIZE,
    streamsPerUser: e.STREAMS_PER_USER,
    streamBufferBytes: e.STREAM_BUFFER_BYTES,
    httpTimeouts: Object.freeze({
      requestMs: e.HTTP_REQUEST_TIMEOUT_MS,
      // Node requires headersTimeout <= requestTimeout.
      headersMs: e.HTTP_REQUEST_TIMEOUT_MS
        ? Math.min(e.HTTP_HEADERS_TIMEOUT_MS, e.HTTP_REQUEST_TIMEOUT_MS)
        : e.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      idleSocketMs: e.HTTP_IDLE_SOCKET_TIMEOUT_MS,
    }),
    loginFailuresPerWindow: e.LOGIN_FAILURES_PER_WINDOW,
    loginFailureWindowMs: e.LOGIN_FAILURE_WINDOW_SECONDS * 1000,
    rateLimits: Object.freeze({
      registrations: { points: e.REGISTRATIONS_PER_WINDOW, windowSeconds: e.REGISTRATION_WINDOW_SECONDS },
      messages: { points: e.MESSAGES_PER_WINDOW, windowSeconds: e.MESSAGE_WINDOW_SECONDS },
      typing: { points: e.TYPING_PER_WINDOW, windowSeconds: e.TYPING_WINDOW_SECONDS },
    }),
    maxGroupMembers: e.MAX_GROUP_MEMBERS,
    presenceEnabled: e.PRESENCE_ENABLED,
    presenceWindowMs: e.PRESENCE_WINDOW_MS,
    presenceGraceMs: e.PRESENCE_GRACE_MS,
    deliveryFlushMs: e.DELIVERY_FLUSH_MS,
  });
}

/** `sqlite:./rel.db`, `sqlite:///abs.db`, `:memory:`, a plain path, or `postgres://…`. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (/^postgres(ql)?:\/\//.test(url)) {
    const schema = new URL(url).searchParams.get('schema') ?? undefined;
    return { client: 'postgres', connectionString: url, schema };
  }
  if (url === ':memory:' || url === 'sqlite::memory:') return { client: 'sqlite', filename: ':memory:' };
  if (url.startsWith('sqlite://'))
    return { client: 'sqlite', filename: resolve(url.slice('sqlite://'.length)) };
  if (url.startsWith('sqlite:')) return { client: 'sqlite', filename: resolve(url.slice('sqlite:'.length)) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url))
    throw new ConfigError(`DATABASE_URL: unsupported scheme in ${url}`);
  return { client: 'sqlite', filename: resolve(url) };
}

/**
 * The secret that seals session tokens. Without SESSION_SECRET, one is generated on first start and
 * kept in the data folder, so tokens stay valid across restarts.
 */
export function resolveSessionSecret(config: Config): {
  secret: string;
  source: 'env' | 'file' | 'generated';
} {
  if (config.sessionSecret) return { secret: config.sessionSecret, source: 'env' };
  const file = join(config.dataDir, 'session-secret');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 32) return { secret: stored, source: 'file' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const secret = randomBytes(32).toString('base64url');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return { secret, source: 'generated' };
}
