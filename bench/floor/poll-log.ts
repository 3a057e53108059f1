// The long-poll floors' shared state: an in-memory log, and the polls waiting at its head. Each
// message is serialized once, and every waiting poll is answered with the same body. The two
// floors (long-poll.ts on node:http, long-poll-koa.ts on Koa) differ only in how they speak HTTP.

export interface Poll {
  /** Answers the poll with this JSON body. */
  answer(body: string): void;
  timer?: NodeJS.Timeout;
}

const waiting = new Set<Poll>();
const log: { id: number; json: string }[] = [];

const bodyAfter = (after: number): string => {
  const events = log.filter((e) => e.id > after);
  const cursor = events.at(-1)?.id ?? after;
  return `{"events":[${events.map((e) => e.json).join(',')}],"cursor":"${cursor}"}`;
};

/**
 * A poll from `cursor` (absent: from now): answered at once when there is news or `timeoutMs` is 0,
 * otherwise kept until a message or the timeout. Returns what to call when the client goes away.
 */
export function poll(cursor: string | null, timeoutMs: number, p: Poll): () => void {
  const head = log.at(-1)?.id ?? 0;
  const after = cursor === null ? head : Number(cursor);
  if (after < head || timeoutMs === 0) {
    p.answer(bodyAfter(after));
    return () => {};
  }
  p.timer = setTimeout(() => {
    waiting.delete(p);
    p.answer(bodyAfter(after));
  }, timeoutMs);
  waiting.add(p);
  return () => {
    clearTimeout(p.timer);
    waiting.delete(p);
  };
}

/** Appends a message to the log, answers every waiting poll with it, and returns its JSON. */
export function append(text: string): string {
  const id = (log.at(-1)?.id ?? 0) + 1;
  const at = new Date().toISOString();
  const message = JSON.stringify({
    id: String(id),
    conversationId: '1',
    senderId: '1',
    body: text,
    clientMessageId: null,
    createdAt: at,
    editedAt: null,
  });
  const event = `{"id":"${id}","type":"message.created","at":"${at}","data":${message}}`;
  log.push({ id, json: event });
  const body = `{"events":[${event}],"cursor":"${id}"}`;
  for (const p of waiting) {
    clearTimeout(p.timer);
    p.answer(body);
  }
  waiting.clear();
  return message;
}

/** Stops every waiting poll's timer (the server is stopping). */
export function stopWaiting(): void {
  for (const p of waiting) clearTimeout(p.timer);
}
