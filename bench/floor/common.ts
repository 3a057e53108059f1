import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { CHECKPOINT_BACKSTOP_PAGES, startCheckpointer } from '../../lib/dialects/sqlite-checkpointer.ts';

/**
 * What every floor shares: the least a Node server must do for the same wire behaviour as Parley —
 * node:http, JSON, and (where storage is involved) better-sqlite3 with WAL and synchronous=NORMAL,
 * the same durability Parley documents. No framework, auth or validation.
 */
export function openDb(filename: string): Database.Database {
  const db = new Database(filename);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // Checkpoints on a thread of their own, as Parley's are (lib/dialects/sqlite-checkpointer.ts).
  // Left to SQLite, the commit that finds the WAL past 1,000 pages copies it on the event loop: in
  // the one-to-one floor that was its UPDATE once a second, 30-40 ms each, which set the floor's p99.
  db.pragma(`wal_autocheckpoint = ${CHECKPOINT_BACKSTOP_PAGES}`);
  startCheckpointer(filename, pino({ level: 'warn' }));
  db.pragma('busy_timeout = 5000');
  return db;
}

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function json(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** An SSE response with Parley's headers and its `retry:` hint (the caller replays, then says `: live`). */
export function sseHead(req: IncomingMessage, res: ServerResponse): void {
  req.socket.setTimeout(0);
  req.socket.setNoDelay(true);
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    'X-Accel-Buffering': 'no',
    Connection: 'keep-alive',
  });
  res.write('retry: 2000\n\n');
}

/** A live SSE stream with nothing to replay: the head, `: live`, and membership of `streams` while open. */
export function liveStream(req: IncomingMessage, res: ServerResponse, streams: Set<ServerResponse>): void {
  sseHead(req, res);
  res.write(': live\n\n');
  streams.add(res);
  res.on('close', () => streams.delete(res));
}

/** Listens on PORT (loopback) and stops on SIGTERM, like Parley. */
export function listen(handler: RequestListener, onClose?: () => void): Server {
  const server = createServer(handler);
  server.keepAliveTimeout = 65_000;
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  process.once('SIGTERM', () => {
    onClose?.();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
  return server;
}

/** Same field order and shape as Parley's Message JSON. */
export interface MessageRow {
  id: number;
  conversation_id: number;
  sender_id: number;
  body: string;
  client_message_id: string | null;
  created_at: string;
  edited_at: string | null;
}

export const messageJson = (m: MessageRow): string =>
  JSON.stringify({
    id: String(m.id),
    conversationId: String(m.conversation_id),
    senderId: String(m.sender_id),
    body: m.body,
    clientMessageId: m.client_message_id,
    createdAt: m.created_at,
    editedAt: m.edited_at,
  });
