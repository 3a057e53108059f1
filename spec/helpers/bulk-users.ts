import type { TestServer } from './server.ts';

let batch = 0;

/**
 * Inserts `count` users straight into the database and returns their ids as the API shows them.
 * For specs about large groups: registering through the API hashes a password per user, which
 * would take minutes for a thousand. They cannot log in.
 */
export async function insertUsers(server: TestServer, count: number): Promise<string[]> {
  const at = new Date().toISOString();
  const prefix = `bulk${process.pid % 1000}_${++batch}_`;
  const ids: string[] = [];
  const CHUNK = 100; // rows per INSERT: under SQLite's bound-parameter limit
  for (let start = 0; start < count; start += CHUNK) {
    const rows = Array.from({ length: Math.min(CHUNK, count - start) }, (_, k) => {
      const name = `${prefix}${start + k}`;
      return {
        username: name,
        username_key: name,
        display_name: name,
        display_name_key: name,
        password_hash: 'not a hash: cannot log in',
        created_at: at,
        updated_at: at,
      };
    });
    const inserted = await server.parley.deps.db('users').insert(rows).returning('id');
    ids.push(...inserted.map((r: { id: number }) => String(r.id)));
  }
  return ids;
}
