/**
 * An end-to-end encrypted chat between two users, one terminal each, through a running Parley:
 *
 *   PARLEY_USER=alice PARLEY_PASSWORD='correct horse battery' npx tsx client/examples/e2ee-chat.ts bob
 *   PARLEY_USER=bob   PARLEY_PASSWORD='correct horse battery' npx tsx client/examples/e2ee-chat.ts alice
 *
 * Each run is a new device with new MLS keys (its state lives in memory). The first to start
 * creates the encrypted conversation; the other, or any later run, joins its MLS group by external
 * commit. Type a line to send it; Ctrl-D or Ctrl-C to leave. PARLEY_URL defaults to
 * http://localhost:3000; PARLEY_REGISTER=1 creates the account first if it does not exist.
 */
import { createInterface } from 'node:readline';
import { createApi, E2eeDevice, memoryCursorStore, subscribe } from '../src/index.ts';

const baseUrl = process.env.PARLEY_URL ?? 'http://localhost:3000';
const username = process.env.PARLEY_USER ?? '';
const password = process.env.PARLEY_PASSWORD ?? '';
const peerName = process.argv[2];
if (!username || !password || !peerName) {
  console.error(
    'usage: PARLEY_USER=… PARLEY_PASSWORD=… npx tsx client/examples/e2ee-chat.ts <peer username>',
  );
  process.exit(2);
}

const anonymous = createApi({ baseUrl });
if (process.env.PARLEY_REGISTER === '1') await anonymous.POST('/register', { body: { username, password } });
const { data: session, error } = await anonymous.POST('/login', {
  body: { username, password, device: { name: 'e2ee-chat example' } },
});
if (!session) {
  console.error(`login failed: ${error?.title ?? 'no answer'}`);
  process.exit(1);
}
const api = createApi({ baseUrl, token: session.token });
const { data: found } = await api.GET('/users', { params: { query: { q: peerName } } });
const peer = found?.users.find((u) => u.username.toLowerCase() === peerName.toLowerCase());
if (!peer) {
  console.error(`no user named ${peerName}`);
  process.exit(1);
}

const names = new Map([
  [session.user.id, username],
  [peer.id, peer.username],
]);
const device = await E2eeDevice.register({
  api,
  userId: session.user.id,
  deviceId: session.deviceId,
  onMessage: (m) => {
    if (m.own) return;
    const who = names.get(m.senderId) ?? m.senderId;
    console.log(
      m.text !== undefined ? `[${who}] ${m.text}` : `[${who}] (cannot decrypt: ${m.error.message})`,
    );
  },
});
console.error(`[signed in as ${username}, device ${session.deviceId}; MLS keys published]`);

// State, then stream: the events after this read are exactly what happens from now on.
const { data: list } = await api.GET('/conversations', {});
const existing = (list?.conversations ?? []).find(
  (c) => (c as { encrypted?: boolean }).encrypted && c.participants.some((p) => p.id === peer.id),
);
const subscription = subscribe({
  api,
  cursorStore: memoryCursorStore((list as { eventCursor: string }).eventCursor),
  onEvent: (event) => device.handle(event),
  onTransportChange: (t) => console.error(`[listening over ${t}]`),
  onUnauthorized: () => console.error('[session ended]'),
});

let conversationId: string;
if (existing) {
  conversationId = existing.id;
  const { epoch } = await device.joinExternal(conversationId);
  console.error(`[joined encrypted conversation ${conversationId} by external commit, epoch ${epoch}]`);
} else {
  conversationId = await device.createConversation([peer.id]);
  console.error(`[created encrypted conversation ${conversationId} with ${peer.username}; type to send]`);
}

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const text = line.trim();
  if (text) device.send(conversationId, text).catch((err) => console.error(`[not sent: ${err.message}]`));
});
const leave = () => void subscription.close();
input.once('close', leave);
process.once('SIGINT', leave);
console.error(`[stopped: ${await subscription.done}]`);
input.close();
