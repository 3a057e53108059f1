import type { ApiResponse, TestUser } from './client.ts';

function expectStatus(res: ApiResponse, what: string, ...ok: number[]): void {
  if (!ok.includes(res.status)) throw new Error(`${what}: ${res.status} ${res.text}`);
}

/** A direct conversation between two users (the existing one, if any); returns its id. */
export async function direct(a: TestUser, b: TestUser): Promise<string> {
  const res = await a.api.post('/conversations', { participantIds: [b.id] });
  expectStatus(res, 'direct conversation', 200, 201);
  return res.body.id;
}

/** A new group owned by `owner` with these members; returns the Conversation the server answered. */
export async function createGroup<C extends { id: string } = any>(
  owner: TestUser,
  members: readonly TestUser[],
  title = 'a group',
): Promise<C> {
  const res = await owner.api.post('/conversations', { participantIds: members.map((m) => m.id), title });
  expectStatus(res, 'group', 201);
  return res.body;
}

/** A new group owned by `owner` with these members; returns its id. */
export async function group(
  owner: TestUser,
  members: readonly TestUser[],
  title = 'a group',
): Promise<string> {
  return (await createGroup(owner, members, title)).id;
}

/** Sends a message and returns it. */
export async function send(user: TestUser, conversationId: string, body: string): Promise<any> {
  const res = await user.api.post(`/conversations/${conversationId}/message`, { body });
  expectStatus(res, 'send', 201);
  return res.body;
}

/** One long-poll answer. */
export async function poll(
  user: TestUser,
  query: { cursor?: string; timeout?: number },
): Promise<ApiResponse> {
  const params = new URLSearchParams();
  if (query.cursor !== undefined) params.set('cursor', query.cursor);
  if (query.timeout !== undefined) params.set('timeout', String(query.timeout));
  return user.api.get(`/events/poll?${params}`);
}
