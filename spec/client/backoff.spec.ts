import { expect } from 'chai';
import { MAX_RETRY_AFTER_MS } from '../../client/src/events/backoff.ts';
import { backoffDelay, retryAfterDelay } from '../../client/src/index.ts';

describe('client SDK: backoff', () => {
  const lowest = () => 0;
  const highest = () => 0.999999;

  it('draws each wait between zero and an exponential bound, capped', () => {
    const options = { initialMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(n, options, highest))).to.deep.equal([
      100, 200, 400, 800, 1000,
    ]);
    expect(backoffDelay(3, options, lowest)).to.equal(0);
    // Far past the cap it stays at the cap, with no overflow.
    expect(backoffDelay(10_000, options, highest)).to.equal(1000);
  });

  it('reads Retry-After in seconds or as an HTTP date, adding at most a tenth as jitter', () => {
    expect(retryAfterDelay('5', 0, lowest)).to.equal(5000);
    expect(retryAfterDelay('5', 0, highest)).to.equal(5500);
    const now = Date.parse('2026-12-05T12:00:00Z');
    expect(retryAfterDelay('Sat, 05 Dec 2026 12:00:30 GMT', now, lowest)).to.equal(30_000);
  });

  it('ignores a missing or unreadable Retry-After, and bounds one far off', () => {
    expect(retryAfterDelay(null)).to.equal(undefined);
    expect(retryAfterDelay('soon')).to.equal(undefined);
    expect(retryAfterDelay('-3', 0, lowest)).to.equal(0);
    expect(retryAfterDelay('86400', 0, lowest)).to.equal(MAX_RETRY_AFTER_MS);
  });
});
