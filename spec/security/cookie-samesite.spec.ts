import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../lib/config.ts';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

async function loginCookie(url: string, user: { username: string; password: string }): Promise<string> {
  const res = await new Api(url).post('/login', { username: user.username, password: user.password });
  expect(res.status).to.equal(200);
  return res.headers.get('set-cookie') ?? '';
}

describe('COOKIE_SAMESITE', () => {
  it('refuses none without COOKIE_SECURE=true, naming the setting', () => {
    expect(() => loadConfig({ COOKIE_SAMESITE: 'none' })).to.throw(
      ConfigError,
      /COOKIE_SAMESITE: none requires COOKIE_SECURE=true/,
    );
    expect(() => loadConfig({ COOKIE_SAMESITE: 'sometimes' })).to.throw(ConfigError, /COOKIE_SAMESITE/);
    expect(loadConfig({ COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'true' }).cookieSameSite).to.equal('none');
  });

  describe('by default', () => {
    const t = useServer({ users: ['alice'] });
    it('sets the session cookie SameSite=Lax', async () => {
      const cookie = await loginCookie(t.url, t.users.alice);
      expect(cookie)
        .to.match(/parley_session=/)
        .and.match(/samesite=lax/i);
    });
  });

  describe('set to none', () => {
    const t = useServer({ users: ['alice'], env: { COOKIE_SAMESITE: 'none', COOKIE_SECURE: 'true' } });
    it('sets the session cookie SameSite=None; Secure', async () => {
      const cookie = await loginCookie(t.url, t.users.alice);
      expect(cookie)
        .to.match(/samesite=none/i)
        .and.match(/;\s*secure/i);
    });
  });
});
