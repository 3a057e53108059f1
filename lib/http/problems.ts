/** One field-level validation failure, as shown in a problem's `errors` list. */
export interface FieldError {
  path: string;
  message: string;
}

/**
 * The catalogue of problem types, one per cause a client may want to act on. A type's slug, status
 * and title never change; `detail` says what went wrong this time. Clients may switch on the slug
 * (the part after `urn:parley:problem:`); `cause` is what the OpenAPI document says of it.
 */
export const PROBLEMS = {
  'validation-failed': {
    status: 400,
    title: 'Your request is not valid',
    cause: 'a field is missing, malformed or out of range; `errors` names each',
  },
  'bad-request': {
    status: 400,
    title: 'Bad request',
    cause: 'the request could not be read at all (not JSON, headers too large)',
  },
  'malformed-cursor': {
    status: 400,
    title: 'Malformed cursor',
    cause: 'a paging or event cursor that the server did not hand out',
  },
  'not-a-group': {
    status: 400,
    title: 'Not a group',
    cause: 'a group-only change asked of a direct conversation',
  },
  'no-other-participant': {
    status: 400,
    title: 'No one else in it',
    cause: 'a conversation needs at least one participant besides the caller',
  },
  'push-endpoint-refused': {
    status: 400,
    title: 'Push endpoint refused',
    cause:
      'a push endpoint that is not https, or resolves to a loopback, private, link-local or unique-local address (PUSH_ALLOW_PRIVATE_ENDPOINTS lifts this)',
  },
  'push-gateway-not-allowed': {
    status: 400,
    title: 'Push gateway not allowed',
    cause: 'a push gateway URL that is not one of PUSH_GATEWAYS',
  },
  unauthenticated: {
    status: 401,
    title: 'Authentication required',
    cause: 'no session, or one that was revoked or expired',
  },
  'invalid-credentials': { status: 401, title: 'Invalid username or password', cause: 'a failed login' },
  'invalid-stream-ticket': {
    status: 401,
    title: 'Invalid stream ticket',
    cause: 'a stream ticket that is unknown, used, expired, or of a revoked session; take a new one',
  },
  forbidden: {
    status: 403,
    title: 'Not allowed',
    cause: 'the caller may not do this (only yourself, only the sender, only owners and admins)',
  },
  'wrong-password': {
    status: 403,
    title: 'Wrong current password',
    cause: "`currentPassword` is not the account's password",
  },
  'cross-site-write': {
    status: 403,
    title: 'Cross-site write refused',
    cause: 'a cookie-authenticated write failed the CSRF check',
  },
  'not-found': {
    status: 404,
    title: 'Not found',
    cause: 'nothing there, or a conversation the caller is not in',
  },
  'method-not-allowed': { status: 405, title: 'Method not allowed', cause: 'see the Allow header' },
  'not-acceptable': {
    status: 406,
    title: 'Not acceptable',
    cause: 'the Accept header asks for a type this path does not serve',
  },
  'username-taken': {
    status: 409,
    title: 'Username taken',
    cause: 'another account has this username (case-insensitively)',
  },
  'group-full': {
    status: 409,
    title: 'Group full',
    cause: 'the change would take a group past MAX_GROUP_MEMBERS',
  },
  'last-owner': {
    status: 409,
    title: 'Last owner',
    cause: 'the change would leave a group without an owner',
  },
  'device-keys-set': {
    status: 409,
    title: 'Device keys already set',
    cause: 'a device publishes its end-to-end encryption keys once; a new key is a new device (log in again)',
  },
  'device-keys-missing': {
    status: 409,
    title: 'Device has no keys',
    cause: 'key packages are accepted only from a device that has published its keys',
  },
  'key-packages-full': {
    status: 409,
    title: 'Too many key packages',
    cause: 'a device keeps at most 1,000 unclaimed key packages',
  },
  'conversation-encrypted': {
    status: 409,
    title: 'Conversation is end-to-end encrypted',
    cause:
      'members join and are removed by an MLS commit (POST /conversations/{id}/commits) in an encrypted conversation',
  },
  'not-encrypted': {
    status: 409,
    title: 'Conversation is not end-to-end encrypted',
    cause: 'MLS commits and GroupInfo belong to encrypted conversations only',
  },
  'epoch-mismatch': {
    status: 409,
    title: 'Not the current epoch',
    cause:
      'another commit won this epoch, or the client is behind or ahead; `currentEpoch` says where the group is',
  },
  'payload-too-large': {
    status: 413,
    title: 'Request body too large',
    cause: 'the body exceeds what this endpoint accepts',
  },
  'unsupported-media-type': {
    status: 415,
    title: 'Unsupported media type',
    cause: 'the body is not of a type this endpoint accepts',
  },
  'rate-limited': {
    status: 429,
    title: 'Too many requests',
    cause: 'a rate limit or a connection cap; wait Retry-After seconds',
  },
  internal: {
    status: 500,
    title: 'Internal Server Error',
    cause: 'a fault on the server; the details are in its log only',
  },
  'not-implemented': {
    status: 501,
    title: 'Not implemented',
    cause: 'an HTTP method the server does not know',
  },
  unavailable: {
    status: 503,
    title: 'Service unavailable',
    cause: 'the database does not answer, or the server is restarting',
  },
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

  /** Members a problem type adds to its body (RFC 9457 extension members), e.g. `currentEpoch`. */
  readonly extensions: Record<string, unknown>;

  constructor(
    readonly slug: ProblemSlug,
    readonly detail: string,
    options: {
      errors?: FieldError[];
      headers?: Record<string, string>;
      extensions?: Record<string, unknown>;
    } = {},
  ) {
    super(detail);
    this.status = PROBLEMS[slug].status;
    this.title = PROBLEMS[slug].title;
    this.type = problemType(slug);
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }

  toJSON() {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(this.errors ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

export const invalid = (detail: string, errors?: FieldError[]) =>
  new HttpProblem('validation-failed', detail, errors ? { errors } : {});
export const badRequest = (detail: string) => new HttpProblem('bad-request', detail);
export const malformedCursor = (what: 'event cursor' | 'cursor') =>
  new HttpProblem(
    'malformed-cursor',
    what === 'cursor'
      ? 'The cursor is malformed: pass back a nextCursor exactly as received.'
      : 'The event cursor is malformed: pass back an id or cursor exactly as received.',
  );
export const notAGroup = (what: string) =>
  new HttpProblem(
    'not-a-group',
    `A direct conversation ${what}. Start a group instead: POST /conversations with every participantId and a title.`,
  );
export const noOtherParticipant = () =>
  new HttpProblem('no-other-participant', 'Add at least one participant other than yourself.');
export const unauthenticated = (
  detail = 'Log in and send the token as a Bearer header or the session cookie.',
) => new HttpProblem('unauthenticated', detail, { headers: { 'WWW-Authenticate': 'Bearer realm="parley"' } });
export const sessionRevoked = () => unauthenticated('The session was revoked. Log in again.');
export const invalidStreamTicket = () =>
  new HttpProblem(
    'invalid-stream-ticket',
    'The stream ticket is unknown, used or expired. Take a new one (POST /events/ticket) and reconnect from your last event id.',
    { headers: { 'WWW-Authenticate': 'Bearer realm="parley"' } },
  );
export const invalidCredentials = () =>
  new HttpProblem('invalid-credentials', 'The username or password is incorrect.');
export const forbidden = (detail: string) => new HttpProblem('forbidden', detail);
export const wrongPassword = () =>
  new HttpProblem('wrong-password', 'currentPassword is not your current password.');
export const crossSiteWrite = (detail: string) => new HttpProblem('cross-site-write', detail);
export const notFound = (detail: string) => new HttpProblem('not-found', detail);
export const pushEndpointRefused = (detail: string) => new HttpProblem('push-endpoint-refused', detail);
export const pushGatewayNotAllowed = (url: string) =>
  new HttpProblem(
    'push-gateway-not-allowed',
    `${url} is not one of this server's push gateways (PUSH_GATEWAYS).`,
  );
/** One detail for "not a member", "no such id" and "not an id at all", so nothing leaks. */
export const noSuchConversation = () => notFound('There is no such conversation among yours.');
// A path id that is not one of ours arrives as 0 (lib/util/ids.ts): a detail names it only when
// it is an id the client sent.
export const noSuchMessage = (conversationId: number, messageId: number) =>
  notFound(
    messageId
      ? `There is no message ${messageId} in conversation ${conversationId}.`
      : `There is no such message in conversation ${conversationId}.`,
  );
export const noSuchUser = (userId: number) =>
  notFound(userId ? `There is no user with id ${userId}.` : 'There is no such user.');
/** "User 42", or "That user" for an id that is not one of ours. */
export const userNamed = (userId: number) => (userId ? `User ${userId}` : 'That user');
export const usernameTaken = (username: string) =>
  new HttpProblem('username-taken', `The username "${username}" is taken.`);
export const groupFull = (detail: string) => new HttpProblem('group-full', detail);
export const lastOwner = () =>
  new HttpProblem('last-owner', 'A group needs an owner: make someone else owner first.');
export const tooLarge = (detail: string) => new HttpProblem('payload-too-large', detail);
export const unsupportedMediaType = (detail: string) => new HttpProblem('unsupported-media-type', detail);
export const rateLimited = (detail: string, retryAfterSeconds: number) =>
  new HttpProblem('rate-limited', detail, {
    headers: { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });
export const unavailable = (detail: string) => new HttpProblem('unavailable', detail);
export const deviceKeysSet = () =>
  new HttpProblem('device-keys-set', 'This device has keys already: a new key is a new device.');
export const deviceKeysMissing = () =>
  new HttpProblem('device-keys-missing', 'Publish the device keys (PUT /devices/{id}/keys) first.');
export const keyPackagesFull = (detail: string) => new HttpProblem('key-packages-full', detail);
export const conversationEncrypted = (detail: string) => new HttpProblem('conversation-encrypted', detail);
export const notEncrypted = () =>
  new HttpProblem('not-encrypted', 'This conversation is not end-to-end encrypted.');
export const epochMismatch = (currentEpoch: number) =>
  new HttpProblem(
    'epoch-mismatch',
    `The group is at epoch ${currentEpoch}: fetch what you missed and retry there.`,
    {
      extensions: { currentEpoch },
    },
  );
