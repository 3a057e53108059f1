import { expect } from 'chai';
import { Api, signUp } from './helpers/client.ts';
import { startServer, type TestServer } from './helpers/server.ts';

// An attacker must not learn which usernames exist from how long a failed login takes. The other
// session properties (forged, altered, expired and revoked tokens; password change) are specified
// in auth.spec.ts.

const TRIES = 10;

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

describe('POST /login timing', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ LOGIN_FAILURES_PER_WINDOW: '1000' });
  });
  after(() => server.close());

  it('takes about as long for an unknown user as for a wrong password', async function () {
    this.timeout(120_000);
    const user = await signUp(server.url, 'timing');
    const api = new Api(server.url);
    const attempt = async (username: string) => {
      const started = performance.now();
      const res = await api.post('/login', { username, password: 'not the password' });
      expect(res.status).to.equal(401);
      return performance.now() - started;
    };
    // Warm-up: the first unknown-user login also derives the dummy hash it verifies against.
    await attempt('nobody_warmup');
    await attempt(user.username);
    const unknown: number[] = [];
    const wrong: number[] = [];
    // Interleaved, so a change in machine load hits both series alike.
    for (let i = 0; i < TRIES; i++) {
      unknown.push(await attempt(`nobody_${i}`));
      wrong.push(await attempt(user.username));
    }
    const [u, w] = [median(unknown), median(wrong)];
    console.log(
      `      login timing: unknown user ${u.toFixed(1)} ms, wrong password ${w.toFixed(1)} ms (medians of ${TRIES})`,
    );
    // Generous: a missing hash verification would make one side several times faster.
    expect(u / w).to.be.within(0.5, 2);
  });
});
