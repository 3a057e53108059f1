import { json, listen, openDb } from './common.ts';

// Floor for "start": open the existing database and answer GET /health with a query, nothing else.
const db = openDb(process.env.FLOOR_DB!);
const ping = db.prepare('SELECT 1 AS ok');

listen((_req, res) => {
  ping.get();
  json(res, 200, '{"status":"ok"}');
});
