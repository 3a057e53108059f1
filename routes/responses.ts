import type { ResponseSpec } from '../lib/http/route.ts';
import { Problem } from '../lib/http/schemas.ts';

const DESCRIPTIONS: Record<number, string> = {
  400: 'The request is not valid (see `errors`)',
  401: 'Not authenticated, or the session was revoked or expired',
  403: 'Authenticated, but not allowed',
  404: 'Not found (also a conversation you are not in)',
  409: 'Conflicts with existing data',
  413: 'Body too large',
  415: 'Wrong content type',
  429: 'Too many requests; see Retry-After',
  503: 'The database does not answer',
};

/** The problem+json responses a route can give, for its OpenAPI entry. */
export function problems(...statuses: number[]): Record<number, ResponseSpec> {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: DESCRIPTIONS[s] ?? 'Error', schema: Problem, contentType: 'application/problem+json' },
    ]),
  );
}
