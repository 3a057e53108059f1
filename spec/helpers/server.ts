import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../lib/config.ts';
import { type RunningParley, startParley } from '../../lib/server.ts';
import { dropSchema, onPostgres, postgresUrl, schemaFor } from './postgres.ts';

export interface TestServer {
  url: string;
  parley: RunningParley;
  /** The temporary folder holding this server's database and secret. */
  dir: string;
  env: Record<string, string>;
  /** Stops the server, keeping its database. */
  stop(): Promise<void>;
  /** Stops the server and deletes its database. */
  close(): Promise<void>;
}

/**
 * Starts a real Parley on an ephemeral port with a fresh database in a temporary folder — or, when
 * the run is on PostgreSQL (PARLEY_TEST_DB=postgres), in a fresh schema named after that folder.
 * `env` overrides the configuration (same variables as the README). Passing `dir` reuses a
 * database, which is how restart specs start "the same server" again.
 */
export async function startServer(env: Record<string, string> = {}, dir?: string): Promise<TestServer> {
  const folder = dir ?? mkdtempSync(join(tmpdir(), 'parley-spec-'));
  const fullEnv = {
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: onPostgres ? postgresUrl(schemaFor(folder)) : `sqlite:${join(folder, 'parley.db')}`,
    DATA_DIR: folder,
    SESSION_SECRET: dir ? '' : randomBytes(24).toString('base64url'),
    LOG_LEVEL: process.env.PARLEY_TEST_LOG_LEVEL ?? 'silent',
    // Specs register and send from one address far faster than people do; the rate-limit specs
    // (spec/security/rate-limits.spec.ts) turn these back on with their own settings.
    REGISTRATIONS_PER_WINDOW: '0',
    MESSAGES_PER_WINDOW: '0',
    TYPING_PER_WINDOW: '0',
    GROUPS_PER_WINDOW: '0',
    MEMBER_ADDS_PER_WINDOW: '0',
    // Presence and delivered receipts add events to every stream of users who share a
    // conversation; their specs (spec/chat/presence.spec.ts, spec/chat/delivered.spec.ts) turn them on.
    PRESENCE_ENABLED: 'false',
    DELIVERY_FLUSH_MS: '0',
    ...env,
  };
  if (!fullEnv.SESSION_SECRET) delete (fullEnv as Partial<typeof fullEnv>).SESSION_SECRET;
  const parley = await startParley(loadConfig(fullEnv));
  const stop = () => parley.close();
  return {
    url: parley.url,
    parley,
    dir: folder,
    env: fullEnv,
    stop,
    close: async () => {
      await stop();
      if (onPostgres) await dropSchema(schemaFor(folder));
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
