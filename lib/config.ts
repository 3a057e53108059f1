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
  /** The session cookie's SameSite: `none` lets a browser app on another site use the cookie. */
  cookieSameSite: 'lax' | 'strict' | 'none';
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
    /** Users named in key package claims, per caller (each named user costs one point). */
    keyPackageClaims: { points: number; windowSeconds: number };
    /** Groups created per user. */
    groups: { points: number; windowSeconds: number };
    /** Users named when creating a group or adding members, per caller (one point each). */
    memberAdds: { points: number; windowSeconds: number };
  };
  /** Most current members a group may have. */
  maxGroupMembers: number;
  /** Presence tracking and presence.updated events (specs turn it off to keep streams quiet). */
  presenceEnabled: boolean;
  /** A poll keeps its user online this long after it ends (clients poll again at once). */
  presenceWindowMs: number;
  /** A closed stream keeps its user online this long, so a quick reconnect is not a transition. */
  presenceGraceMs: number;
  /**
   * Presence is announced through conversations of at most this many members: direct ones and
   * small groups. Members of larger groups read it when they show it (User, participants page).
   */
  presenceGroupLimit: number;
  /** How often delivered marks are written, in one batch; 0 turns delivered tracking off. */
  deliveryFlushMs: number;
  /** Offline notifications (lib/push/): see README "Offline notifications". */
  push: {
    /** Whether this deployment sends offline notifications at all (no dispatcher, no liveness writes when off). */
    enabled: boolean;
    /** VAPID key pair (base64url); null: generated on first start and kept in DATA_DIR. */
    vapidPublicKey: string | null;
    vapidPrivateKey: string | null;
    /** Who runs this server, for push services to contact (`mailto:` or `https:` URL). */
    vapidSubject: string;
    /** The Matrix Push Gateway URLs a device may name. */
    gateways: string[];
    /** Lifts the https-only and public-address rules for endpoints (tests, private push services). */
    allowPrivateEndpoints: boolean;
    /** Whether notifications carry a preview of the message. */
    previews: boolean;
    /** Pushes in flight at once per node. */
    concurrency: number;
    /** Pushes in flight at once per node to one push service (origin), so a slow one holds only these. */
    originConcurrency: number;
    /** Pushes one device gets per window at most; the rest wait for the next, newest per conversation. */
    deviceLimit: number;
    deviceWindowMs: number;
    timeoutMs: number;
  };
  /** The bearer token GET /metrics wants; null: /metrics is off (404). */
  metricsToken: string | null;
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
  COOKIE_SAMESITE: z.enum(['lax', 'strict', 'none']).default('lax'),
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
  KEY_PACKAGE_CLAIMS_PER_WINDOW: z.coerce.number().int().min(0).default(100),
  KEY_PACKAGE_CLAIM_WINDOW_SECONDS: positiveInt.default(60),
  GROUPS_PER_WINDOW: z.coerce.number().int().min(0).default(20),
  GROUP_WINDOW_SECONDS: positiveInt.default(600),
  MEMBER_ADDS_PER_WINDOW: z.coerce.number().int().min(0).default(5000),
  MEMBER_ADD_WINDOW_SECONDS: positiveInt.default(3600),
  MAX_GROUP_MEMBERS: positiveInt.default(1000),
  PRESENCE_ENABLED: boolean.default(true),
  PRESENCE_WINDOW_MS: positiveInt.default(40_000),
  PRESENCE_GRACE_MS: positiveInt.default(5_000),
  PRESENCE_GROUP_LIMIT: z.coerce.number().int().min(2).default(100),
  DELIVERY_FLUSH_MS: z.coerce.number().int().min(0).default(1_000),
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{80,100}$/, 'must be a base64url P-256 public key')
    .optional(),
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{40,50}$/, 'must be a base64url P-256 private key')
    .optional(),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:|https:\/\/)/, 'must be a mailto: or https: URL')
    .default('mailto:parley@localhost'),
  PUSH_ENABLED: boolean.default(true),
  PUSH_GATEWAYS: z.string().default(''),
  PUSH_ALLOW_PRIVATE_ENDPOINTS: boolean.default(false),
  PUSH_PREVIEWS: boolean.default(true),
  PUSH_CONCURRENCY: positiveInt.max(1000).default(50),
  PUSH_ORIGIN_CONCURRENCY: positiveInt.max(1000).default(32),
  PUSH_DEVICE_LIMIT: positiveInt.max(1000).default(20),
  PUSH_DEVICE_WINDOW_MS: positiveInt.max(86_400_000).default(60_000),
  PUSH_TIMEOUT_MS: positiveInt.min(100).max(60_000).default(10_000),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
});

/** Rules that tie settings together. */
const checkedEnvSchema = envSchema.superRefine((e, ctx) => {
  // Browsers drop a SameSite=None cookie that is not also Secure.
  if (e.COOKIE_SAMESITE === 'none' && !e.COOKIE_SECURE) {
    ctx.addIssue({ code: 'custom', path: ['COOKIE_SAMESITE'], message: 'none requires COOKIE_SECURE=true' });
  }
});

/** Every setting with its default (undefined: none) and, for a choice, its values: `parley --help`. */
export function describeSettings(): { name: string; default: unknown; values?: readonly string[] }[] {
  return Object.entries(envSchema.shape).map(([name, schema]) => {
    const def = (schema as z.ZodType)._zod.def as {
      type: string;
      defaultValue?: unknown;
      innerType?: z.ZodType;
    };
    const inner = def.type === 'default' || def.type === 'optional' ? def.innerType : (schema as z.ZodType);
    const options = (inner as { options?: readonly string[] } | undefined)?.options;
    return { name, default: def.type === 'default' ? def.defaultValue : undefined, values: options };
  });
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Reads the environment into a frozen Config, reporting every problem at once. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = checkedEnvSchema.safeParse(env);
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
    cookieSameSite: e.COOKIE_SAMESITE,
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
      keyPackageClaims: {
        points: e.KEY_PACKAGE_CLAIMS_PER_WINDOW,
        windowSeconds: e.KEY_PACKAGE_CLAIM_WINDOW_SECONDS,
      },
      groups: { points: e.GROUPS_PER_WINDOW, windowSeconds: e.GROUP_WINDOW_SECONDS },
      memberAdds: { points: e.MEMBER_ADDS_PER_WINDOW, windowSeconds: e.MEMBER_ADD_WINDOW_SECONDS },
    }),
    maxGroupMembers: e.MAX_GROUP_MEMBERS,
    presenceEnabled: e.PRESENCE_ENABLED,
    presenceWindowMs: e.PRESENCE_WINDOW_MS,
    presenceGraceMs: e.PRESENCE_GRACE_MS,
    presenceGroupLimit: e.PRESENCE_GROUP_LIMIT,
    deliveryFlushMs: e.DELIVERY_FLUSH_MS,
    push: Object.freeze({
      enabled: e.PUSH_ENABLED,
      vapidPublicKey: e.VAPID_PUBLIC_KEY ?? null,
      vapidPrivateKey: e.VAPID_PRIVATE_KEY ?? null,
      vapidSubject: e.VAPID_SUBJECT,
      gateways: e.PUSH_GATEWAYS.split(',')
        .map((g) => g.trim())
        .filter(Boolean),
      allowPrivateEndpoints: e.PUSH_ALLOW_PRIVATE_ENDPOINTS,
      previews: e.PUSH_PREVIEWS,
      concurrency: e.PUSH_CONCURRENCY,
      originConcurrency: e.PUSH_ORIGIN_CONCURRENCY,
      deviceLimit: e.PUSH_DEVICE_LIMIT,
      deviceWindowMs: e.PUSH_DEVICE_WINDOW_MS,
      timeoutMs: e.PUSH_TIMEOUT_MS,
    }),
    metricsToken: e.METRICS_TOKEN ?? null,
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
