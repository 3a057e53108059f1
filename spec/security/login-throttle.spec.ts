import { expect } from 'chai';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

const PASSWORD = 'correct horse battery';
const from = (ip: string) => ({ 'X-Forwarded-For': ip });

describe('The login throttle (issue 12, items 7 and 8)', () => {
  const t = useServer({
    env: { LOGIN_FAILURES_PER_WINDOW: '5', LOGIN_FAILURE_WINDOW_SECONDS: '600', TRUST_PROXY: 'true' },
  });

  it('counts parallel guesses before checking them: at most the limit get a verdict', async () => {
    const victim = await t.signUp('parallel');
    const api = new Api(t.url);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        api.post('/login', { username: victim.username, password: `guess ${i}` }, from('10.7.0.1')),
      ),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).to.have.length(5);
    expect(statuses.filter((s) => s === 429)).to.have.length(35);
  });

  it('cannot keep a victim out of an address they logged in from before, however long it lasts', async () => {
    const victim = await t.signUp('lockout');
    const api = new Api(t.url);
    // The victim's own address: they logged in from it once.
    expect(
      (await api.post('/login', { username: victim.username, password: PASSWORD }, from('10.8.0.1'))).status,
    ).to.equal(200);
    // An attacker spreads guesses over many addresses: the username is spent for new addresses…
    for (let i = 0; i < 6; i++) {
      await api.post(
        '/login',
        { username: victim.username, password: 'wrong password' },
        from(`10.8.1.${i}`),
      );
    }
    expectProblem(
      await api.post('/login', { username: victim.username, password: PASSWORD }, from('10.8.2.1')),
      429,
      'rate-limited',
    );
    // …but not for the victim's known one.
    const own = await api.post('/login', { username: victim.username, password: PASSWORD }, from('10.8.0.1'));
    expect(own.status, own.text).to.equal(200);
  });

  it('throttles currentPassword guesses with the same rule', async () => {
    const user = await t.signUp('changer');
    const change = (currentPassword: string) =>
      user.api.put(
        `/users/${user.id}`,
        { password: 'a brand new password', currentPassword },
        from('10.9.0.1'),
      );
    for (let i = 0; i < 5; i++) expectProblem(await change(`wrong ${i}`), 403, 'wrong-password');
    // Spent: even the right password waits out the window, so a stolen token cannot keep guessing.
    expectProblem(await change(PASSWORD), 429, 'rate-limited');
  });

  it('counts parallel currentPassword guesses before checking them', async () => {
    const user = await t.signUp('changer2');
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        user.api.put(
          `/users/${user.id}`,
          { password: 'a brand new password', currentPassword: `wrong ${i}` },
          from('10.9.1.1'),
        ),
      ),
    );
    expect(answers.filter((r) => r.status === 403)).to.have.length(5);
    expect(answers.filter((r) => r.status === 429)).to.have.length(15);
  });
});
