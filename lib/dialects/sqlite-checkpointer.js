// The WAL checkpointer of a SQLite database (see sqlite-checkpointer.ts): a second connection, on
// its own thread, that copies committed pages from the WAL into the database file now and then.
// Plain JavaScript so it loads however the server was started (as encryption-worker.js).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { filename, intervalMs } = workerData;
const db = new Database(filename, { fileMustExist: true });
db.pragma('busy_timeout = 5000');

// PASSIVE: copies what no reader still needs, without waiting for readers and without blocking the
// writer, which goes on appending meanwhile; the writer restarts the WAL at the beginning once
// everything in it has been copied.
const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}, intervalMs);

parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort.close();
});
