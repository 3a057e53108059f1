/**
 * Logs in and prints your events as they happen, over SSE or long-poll, until Ctrl-C:
 *
 *   PARLEY_URL=http://localhost:3000 PARLEY_USER=alice PARLEY_PASSWORD='correct horse battery' \
 *     npx tsx client/examples/tail.ts
 */
import { createApi, subscribe } from '../src/index.ts';

const baseUrl = process.env.PARLEY_URL ?? 'http://localhost:3000';
const username = process.env.PARLEY_USER ?? 'alice';
const password = process.env.PARLEY_PASSWORD ?? '';

const { data: session, error } = await createApi({ baseUrl }).POST('/login', {
  body: { username, password },
});
if (!session) {
  console.error(`login failed: ${error?.title ?? 'no answer'}`);
  process.exit(1);
}

const subscription = subscribe({
  api: createApi({ baseUrl, token: session.token }),
  onEvent: (event) => console.log('id' in event ? event.id : '-', event.type, JSON.stringify(event.data)),
  onReset: () => console.log('reset: missed too much; an app would refetch its state here'),
  onTransportChange: (transport) => console.error(`[listening over ${transport}]`),
  onUnauthorized: () => console.error('[session ended]'),
});
process.once('SIGINT', () => void subscription.close());
console.error(`[stopped: ${await subscription.done}]`);
