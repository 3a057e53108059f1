import { Api, signUp, type TestUser } from './client.ts';
import { startServer, type TestServer } from './server.ts';

/** A server shared by the specs of one `describe`, and the users signed up on it by name. */
export interface Fixture<U extends string> {
  readonly server: TestServer;
  readonly url: string;
  /** The server's own database (for specs that read rows or hold locks beside the server). */
  readonly db: TestServer['parley']['deps']['db'];
  /**
   * The named users, signed up (and logged in) before the first spec runs. Each is a handle that
   * may be taken in the `describe` body (`const { alice } = t.users;`); its fields are read from the
   * signed-up user, so they are there from the first hook or spec on.
   */
  readonly users: Readonly<Record<U, TestUser>>;
  /** An Api on this server without a session; may be taken in the `describe` body, like the users. */
  readonly api: Api;
  /** Signs up one more user on this server. */
  signUp(prefix?: string): Promise<TestUser>;
}

/**
 * Starts one real server for the enclosing `describe` (before its first spec, closed after its
 * last) and signs up `users` on it, in parallel:
 *
 *   const t = useServer({ users: ['alice', 'bob'], env: { PRESENCE_ENABLED: 'true' } });
 *   const { alice, bob } = t.users;
 *   it('…', async () => { … alice.api.get(…) … });
 */
export function useServer<U extends string = never>(
  options: { env?: Record<string, string>; users?: readonly U[] } = {},
): Fixture<U> {
  let server: TestServer | undefined;
  let users: Record<U, TestUser> | undefined;
  const started = <T>(value: T | undefined): T => {
    if (value === undefined)
      throw new Error('useServer: the server starts in a before() hook; use it in specs');
    return value;
  };
  const names = options.users ?? [];
  before(async () => {
    server = await startServer(options.env);
    const signedUp = await Promise.all(names.map((name) => signUp(server!.url, name)));
    users = Object.fromEntries(names.map((name, i) => [name, signedUp[i]])) as Record<U, TestUser>;
  });
  after(async () => {
    await server?.close();
  });
  const handles = Object.fromEntries(names.map((name) => [name, userHandle(() => started(users)[name])]));
  return {
    get server() {
      return started(server);
    },
    get url() {
      return started(server).url;
    },
    get db() {
      return started(server).parley.deps.db;
    },
    users: handles as Record<U, TestUser>,
    api: new Api(() => started(server).url),
    signUp: (prefix) => signUp(started(server).url, prefix),
  };
}

/** A TestUser whose fields are read from (and written to) the user `get` returns, when used. */
function userHandle(get: () => TestUser): TestUser {
  const handle = {} as TestUser;
  for (const field of ['id', 'username', 'password', 'token', 'api'] as const) {
    Object.defineProperty(handle, field, {
      enumerable: true,
      get: () => get()[field],
      set: (value) => {
        (get() as unknown as Record<string, unknown>)[field] = value;
      },
    });
  }
  return handle;
}
