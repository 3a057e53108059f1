import { expect } from 'chai';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

// An attacker must not learn which usernames exist from how long a failed login takes. The other
// session properties (forged, altered, expired and revoked tokens; password change) are specified
// in spec/routes/auth.spec.ts.

const TRIES = 10;

const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

describe('POST /login timing', () => {
  const t = useServer({ env: { LOGIN_FAILURES_PER_WINDOW: '1000' } });

  it('takes about as long for an unknown user as for a wrong password', async function () {
    this.timeout(120_000);
    const user = await t.signUp('timing');
    const api = new Api(t.url);
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
