export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A thin fetch wrapper speaking JSON to one server, optionally as one user. */
export class Api {
  /** `base` may be a function, for a server that has not started yet (spec/helpers/fixture.ts). */
  constructor(
    private readonly base: string | (() => string),
    readonly token?: string,
  ) {}

  get baseUrl(): string {
    return typeof this.base === 'string' ? this.base : this.base();
  }

  as(token: string): Api {
    return new Api(this.base, token);
  }

  async request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const init: RequestInit = { method, headers: { ...headers } };
    const h = init.headers as Record<string, string>;
    if (this.token && !('authorization' in lower(h))) h.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) {
      if (typeof body === 'string' || body instanceof Uint8Array) init.body = body as BodyInit;
      else {
        init.body = JSON.stringify(body);
        if (!('content-type' in lower(h))) h['Content-Type'] = 'application/json';
      }
    }
    const res = await fetch(this.baseUrl + path, init);
    const text = await res.text();
    const type = res.headers.get('content-type') ?? '';
    const parsed = /json/.test(type) && text ? JSON.parse(text) : text;
    const response = { status: res.status, headers: res.headers, body: parsed as T, text };
    for (const observe of responseObservers) observe({ method, path, response });
    return response;
  }

  get<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('GET', path, undefined, headers);
  }
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('POST', path, body, headers);
  }
  put<T = any>(path: string, body?: unknown, headers?: Record<string, string>) {
    return this.request<T>('PUT', path, body, headers);
  }
  delete<T = any>(path: string, headers?: Record<string, string>) {
    return this.request<T>('DELETE', path, undefined, headers);
  }
}

const lower = (h: Record<string, string>) =>
  Object.fromEntries(Object.keys(h).map((k) => [k.toLowerCase(), true]));

/** Hooks that see every response the suite receives (the OpenAPI conformance spec uses this). */
export const responseObservers: ((seen: { method: string; path: string; response: ApiResponse }) => void)[] =
  [];

let userCounter = 0;

export interface TestUser {
  id: string;
  username: string;
  password: string;
  token: string;
  api: Api;
}

/** Registers and logs in a fresh user with a unique name. */
export async function signUp(baseUrl: string, prefix = 'user'): Promise<TestUser> {
  const username = `${prefix}${process.pid % 1000}_${++userCounter}`;
  const password = 'correct horse battery';
  const api = new Api(baseUrl);
  const reg = await api.post('/register', { username, password });
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${reg.text}`);
  const login = await api.post('/login', { username, password });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${login.text}`);
  return { id: reg.body.id, username, password, token: login.body.token, api: api.as(login.body.token) };
}
