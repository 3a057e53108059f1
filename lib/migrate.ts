import { loadConfig } from './config.ts';
import { openDatabase } from './store/db.ts';

/** `npm run migrate`: brings the configured database's schema up to date. */
const db = openDatabase(loadConfig().database);
try {
  const [batch, names] = await db.migrate.latest();
  console.log(names.length ? `migration batch ${batch}: ${names.join(', ')}` : 'schema is up to date');
} finally {
  await db.destroy();
}
