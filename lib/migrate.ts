import { loadConfig } from './config.ts';
import { openDatabase } from './dialects/index.ts';

/** `npm run migrate`: brings the configured database's schema up to date. */
const { db, dialect } = openDatabase(loadConfig().database);
try {
  const applied = await dialect.migrate(db);
  console.log(applied.length ? `applied migrations: ${applied.join(', ')}` : 'schema is up to date');
} finally {
  await db.destroy();
}
