import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sealData } from 'iron-session';
import type { Knex } from 'knex';
import { openDatabase } from '../../lib/dialects/index.ts';
import { hashPassword } from '../../lib/security/passwords.ts';

/**
 * Seeding straight into Parley's schema. Registering through HTTP costs one scrypt hash (~60 ms)
 * per user and logging in another, which would make a 10,000-user scenario take minutes; instead
 * every user gets the same real scrypt hash (computed once; the users can still log in), and each
 * gets a session row and a token sealed exactly as lib/sessions.ts seals it, with the SESSION_SECRET
 * the bench passes to Parley.
 */
export const PASSWORD = 'bench password 1';

export interface BenchDb {
  dir: string;
  file: string;
  secret: string;
  /** Environment that points Parley at this database. */
  env: Record<string, string>;
}

const created: string[] = [];

/** Deletes every database folder created so far (the start scenario's is ~1 GB). */
export function removeDbs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A fresh folder with a migrated, empty Parley database. */
export async function createDb(label: string): Promise<BenchDb> {
  const dir = mkdtempSync(join(tmpdir(), `parley-bench-${label}-`));
  created.push(dir);
  const file = join(dir, 'parley.db');
  const { db, dialect } = openDatabase({ client: 'sqlite', filename: file });
  await dialect.migrate(db);
  await db.destroy();
  const secret = randomBytes(32).toString('base64url');
  return {
    dir,
    file,
    secret,
    env: { DATABASE_URL: `sqlite:${file}`, DATA_DIR: dir, SESSION_SECRET: secret },
  };
}

export function open(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}

let hash: Promise<string> | undefined;

export interface SeededUser {
  id: number;
  token: string;
}

/** `n` users with sessions and bearer tokens. */
export async function seedUsers(b: BenchDb, n: number, prefix: string): Promise<SeededUser[]> {
  hash ??= hashPassword(PASSWORD);
  const passwordHash = await hash;
  const at = new Date().toISOString();
  const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const db = open(b.file);
  const insertUser = db.prepare(
    `INSERT INTO users (username, username_key, display_name, display_name_key, avatar_url, password_hash, created_at, updated_at)
     VALUES (?, ?, ?, ?, NULL, ?, ?, ?)`,
  );
  const insertSession = db.prepare(
    'INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)',
  );
  const rows: { id: number; sid: string }[] = [];
  db.transaction(() => {
    for (let i = 0; i < n; i++) {
      const name = `${prefix}${i}`.slice(0, 32);
      const { lastInsertRowid } = insertUser.run(
        name,
        name.toLowerCase(),
        name,
        name.toLowerCase(),
        passwordHash,
        at,
        at,
      );
      const sid = randomBytes(16).toString('base64url');
      insertSession.run(sid, Number(lastInsertRowid), at, expires);
      rows.push({ id: Number(lastInsertRowid), sid });
    }
  })();
  db.close();
  return sealTokens(rows, b.secret);
}

/** Each session's bearer token, sealed as lib/security/sessions.ts seals it. */
async function sealTokens(rows: { id: number; sid: string }[], secret: string): Promise<SeededUser[]> {
  const users: SeededUser[] = [];
  for (let i = 0; i < rows.length; i += 500) {
    const batch = rows.slice(i, i + 500);
    const tokens = await Promise.all(
      batch.map((r) => sealData({ sid: r.sid }, { password: secret, ttl: 0 })),
    );
    batch.forEach((r, j) => {
      users.push({ id: r.id, token: tokens[j]! });
    });
  }
  return users;
}

/**
 * The same users, sessions and group through knex, for a PostgreSQL schema (the cluster scenario):
 * `n` users with tokens sealed with `secret`, members of one group owned by the first.
 */
export async function seedGroupOver(
  db: Knex,
  secret: string,
  n: number,
  prefix: string,
): Promise<{ users: SeededUser[]; conversationId: number }> {
  hash ??= hashPassword(PASSWORD);
  const passwordHash = await hash;
  const at = new Date().toISOString();
  const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
  const names = Array.from({ length: n }, (_, i) => `${prefix}${i}`.slice(0, 32));
  const ids = (await db
    .batchInsert(
      'users',
      names.map((name) => ({
        username: name,
        username_key: name.toLowerCase(),
        display_name: name,
        display_name_key: name.toLowerCase(),
        password_hash: passwordHash,
        created_at: at,
        updated_at: at,
      })),
      500,
    )
    .returning('id' as never)) as unknown as { id: number }[];
  const rows = ids.map(({ id }) => ({ id: Number(id), sid: randomBytes(16).toString('base64url') }));
  await db.batchInsert(
    'sessions',
    rows.map((r) => ({ id: r.sid, user_id: r.id, created_at: at, expires_at: expires })),
    500,
  );
  const [conversation] = await db('conversations')
    .insert({
      type: 'group',
      title: 'bench',
      created_by: rows[0]!.id,
      member_count: rows.length,
      last_activity_at: at,
      created_at: at,
      updated_at: at,
    })
    .returning('id');
  const conversationId = Number((conversation as { id: number }).id);
  await db.batchInsert(
    'memberships',
    rows.map((r, i) => ({
      conversation_id: conversationId,
      user_id: r.id,
      role: i === 0 ? 'owner' : 'member',
      joined_at: at,
      joined_event_id: 0,
    })),
    500,
  );
  return { users: await sealTokens(rows, secret), conversationId };
}

/** A group conversation whose members see everything from the start of the log. */
export function seedGroup(b: BenchDb, ownerId: number, memberIds: number[]): number {
  const db = open(b.file);
  const at = new Date().toISOString();
  const id = db.transaction(() => {
    const { lastInsertRowid } = db
      .prepare(
        `INSERT INTO conversations (type, title, created_by, member_count, last_activity_at, created_at, updated_at)
         VALUES ('group', 'bench', ?, ?, ?, ?, ?)`,
      )
      .run(ownerId, new Set([ownerId, ...memberIds]).size, at, at, at);
    const conversationId = Number(lastInsertRowid);
    const member = db.prepare(
      `INSERT INTO memberships (conversation_id, user_id, role, joined_at, joined_event_id)
       VALUES (?, ?, ?, ?, 0)`,
    );
    member.run(conversationId, ownerId, 'owner', at);
    for (const m of memberIds) if (m !== ownerId) member.run(conversationId, m, 'member', at);
    return conversationId;
  })();
  db.close();
  return id;
}

/**
 * Bulk history: `n` messages in one conversation, in one transaction per 100,000 rows, optionally
 * each with its `message.created` event in the log (as Parley would have written it).
 */
export function seedMessages(
  b: BenchDb,
  conversationId: number,
  senderId: number,
  n: number,
  opts: { bodyBytes?: number; events?: boolean } = {},
): { firstId: number; lastId: number; firstEventId: number } {
  const db = open(b.file);
  const pad = 'x'.repeat(Math.max(0, (opts.bodyBytes ?? 40) - 20));
  const message = db.prepare(
    `INSERT INTO messages (conversation_id, sender_id, body, created_at) VALUES (?, ?, ?, ?)`,
  );
  const event = db.prepare(
    `INSERT INTO events (tx, type, conversation_id, data, at) VALUES (0, 'message.created', ?, ?, ?)`,
  );
  let firstId = 0;
  let lastId = 0;
  let firstEventId = 0;
  const base = Date.now() - n;
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const at = new Date(base + i).toISOString();
      const body = `seeded ${i} ${pad}`;
      const id = Number(message.run(conversationId, senderId, body, at).lastInsertRowid);
      if (!firstId) firstId = id;
      lastId = id;
      if (opts.events) {
        const data = JSON.stringify({
          id: String(id),
          conversationId: String(conversationId),
          senderId: String(senderId),
          body,
          clientMessageId: null,
          createdAt: at,
          editedAt: null,
        });
        const eventId = Number(event.run(conversationId, data, at).lastInsertRowid);
        if (!firstEventId) firstEventId = eventId;
      }
    }
  });
  for (let i = 0; i < n; i += 100_000) chunk(i, Math.min(n, i + 100_000));
  // The counters behind unread counts, as Parley keeps them: n more messages, all the sender's own.
  db.prepare(
    'UPDATE conversations SET last_message_id = ?, message_count = message_count + ? WHERE id = ?',
  ).run(lastId, n, conversationId);
  db.prepare(
    'UPDATE memberships SET settled_count = settled_count + ? WHERE conversation_id = ? AND user_id = ?',
  ).run(n, conversationId, senderId);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return { firstId, lastId, firstEventId };
}
