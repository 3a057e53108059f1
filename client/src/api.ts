import createClient, { type Client } from 'openapi-fetch';
import type { paths } from './schema.d.ts';

/** A bearer token, or a function that returns the current one (say, after a refresh). */
export type TokenSource = string | (() => string | undefined | Promise<string | undefined>);

export interface ApiOptions {
  /** The server's address, e.g. `https://chat.example`. */
  baseUrl: string;
  /**
   * Sent as `Authorization: Bearer …` on every request. Leave it out to rely on the session
   * cookie instead (a browser app on the server's own site).
   */
  token?: TokenSource;
  /**
   * `include` sends the session cookie cross-origin too (the server must list the app's origin in
   * CORS_ORIGINS). Default `same-origin`, fetch's own default.
   */
  credentials?: RequestCredentials;
  /** Another fetch (a proxy agent, a test's faulty network). Default: the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

/** The typed REST client: every path, parameter and body of the OpenAPI document, checked by TypeScript. */
export type ParleyApi = Client<paths>;

/**
 * A fetch client typed from the server's OpenAPI document (`openapi-fetch`):
 *
 *   const api = createApi({ baseUrl, token });
 *   const { data, error } = await api.GET('/conversations', { params: { query: { limit: 20 } } });
 */
export function createApi(options: ApiOptions): ParleyApi {
  const api = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    // Looked up at call time, so a fetch replaced after creation (tests, polyfills) is the one used.
    fetch: options.fetch ?? ((request) => globalThis.fetch(request)),
  });
  const { token } = options;
  if (token !== undefined) {
    api.use({
      async onRequest({ request }) {
        const value = typeof token === 'function' ? await token() : token;
        if (value) request.headers.set('Authorization', `Bearer ${value}`);
        return request;
      },
    });
  }
  return api;
}
