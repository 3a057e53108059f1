/** One field-level validation failure, as shown in a problem's `errors` list. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * The catalogue of problem types. A type's slug and title never change; `detail` says what went
 * wrong this time. Clients may switch on the slug (the part after `urn:parley:problem:`).
 */
export const PROBLEMS = {
  'validation-failed': { status: 400, title: 'Your request is not valid' },
  'bad-request': { status: 400, title: 'Bad request' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  'invalid-credentials': { status: 401, title: 'Invalid username or password' },
  forbidden: { status: 403, title: 'Not allowed' },
  'not-found': { status: 404, title: 'Not found' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  'not-acceptable': { status: 406, title: 'Not acceptable' },
  conflict: { status: 409, title: 'Conflict' },
  'payload-too-large': { status: 413, title: 'Request body too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported media type' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  internal: { status: 500, title: 'Internal Server Error' },
  'not-implemented': { status: 501, title: 'Not implemented' },
  unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type ProblemSlug = keyof typeof PROBLEMS;

export const problemType = (slug: ProblemSlug): string => `urn:parley:problem:${slug}`;

/** An error that knows its HTTP status, its problem+json body and any headers it needs. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly type: string;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;

  constructor(
    readonly slug: ProblemSlug,
    readonly detail: string,
    options: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.status = PROBLEMS[slug].status;
    this.title = PROBLEMS[slug].title;
    this.type = problemType(slug);
    this.errors = options.errors;
    this.headers = options.headers ?? {};
  }

  toJSON() {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(this.errors ? { errors: this.errors } : {}),
    };
  }
}

export const invalid = (detail: string, errors?: FieldError[]) =>
  new HttpProblem('validation-failed', detail, errors ? { errors } : {});
export const badRequest = (detail: string) => new HttpProblem('bad-request', detail);
export const unauthenticated = (
  detail = 'Log in and send the token as a Bearer header or the session cookie.',
) => new HttpProblem('unauthenticated', detail, { headers: { 'WWW-Authenticate': 'Bearer realm="parley"' } });
export const invalidCredentials = () =>
  new HttpProblem('invalid-credentials', 'The username or password is incorrect.');
export const forbidden = (detail: string) => new HttpProblem('forbidden', detail);
export const notFound = (detail: string) => new HttpProblem('not-found', detail);
export const conflict = (detail: string) => new HttpProblem('conflict', detail);
export const tooLarge = (detail: string) => new HttpProblem('payload-too-large', detail);
export const unsupportedMediaType = (detail: string) => new HttpProblem('unsupported-media-type', detail);
export const rateLimited = (detail: string, retryAfterSeconds: number) =>
  new HttpProblem('rate-limited', detail, {
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });
export const unavailable = (detail: string) => new HttpProblem('unavailable', detail);

/** True for a unique-constraint violation on either engine, told apart by error code, not message. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === '23505';
}
