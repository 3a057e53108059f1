import { expect } from 'chai';
import type { ApiResponse } from './client.ts';

/** Asserts an RFC 9457 problem answer: status, content type and the four members every problem has. */
export function expectProblem(res: ApiResponse, status: number, slug?: string): void {
  expect(res.status, res.text).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
  expect(res.body).to.include({ status });
  expect(res.body.type).to.be.a('string');
  if (slug) expect(res.body.type).to.equal(`urn:parley:problem:${slug}`);
  expect(res.body.title).to.be.a('string').and.not.empty;
  expect(res.body.detail).to.be.a('string').and.not.empty;
}

/** The paths a validation problem names, e.g. `['username', 'password']`. */
export const errorPaths = (res: ApiResponse): string[] =>
  (res.body.errors ?? []).map((e: { path: string }) => e.path);
