import { expect } from 'chai';
import { direct, group } from '../helpers/chat.ts';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

// Text that no field accepts (issue 12, item 11), and what single-line names refuse besides (item 12).
const FORBIDDEN_EVERYWHERE: [string, string][] = [
  ['NUL', 'a\u0000b'],
  ['a lone high surrogate', 'a\ud800b'],
  ['a lone low surrogate', 'a\udc00b'],
  ['BEL', 'a\u0007b'],
  ['a C1 control', 'a\u0085b'],
  ['a right-to-left override', 'a\u202eb'],
];
const BLANK_NAMES: [string, string][] = [
  ['Hangul filler', '\u3164'],
  ['Braille blank', '\u2800\u2800'],
  ['a combining mark alone', '\u0301'],
  ['zero-width spaces', '\u200b\u200b'],
];
const NEWLINE = ['a newline', 'a\nb'] as const;

describe('One rule for every text field (issue 12, items 11 and 12)', () => {
  const t = useServer({ users: ['alice', 'bob'] });

  for (const [what, text] of FORBIDDEN_EVERYWHERE) {
    describe(`refuses ${what}`, () => {
      it('in a group title, at creation and rename', async () => {
        const { alice, bob } = t.users;
        expectProblem(await alice.api.post('/conversations', { participantIds: [bob.id], title: text }), 400);
        const id = await group(alice, [bob], 'fine');
        expectProblem(await alice.api.put(`/conversations/${id}`, { title: text }), 400);
      });
      it('in a display name, at registration and update', async () => {
        const { alice } = t.users;
        const api = new Api(t.url);
        expectProblem(
          await api.post('/register', {
            username: `tx${Date.now()}`,
            password: 'long enough pw',
            displayName: text,
          }),
          400,
        );
        expectProblem(await alice.api.put(`/users/${alice.id}`, { displayName: text }), 400);
      });
      it('in a clientMessageId and a message body', async () => {
        const { alice, bob } = t.users;
        const id = await direct(alice, bob);
        expectProblem(
          await alice.api.post(`/conversations/${id}/message`, { body: 'hi', clientMessageId: text }),
          400,
        );
        // Message bodies are free text (stored exactly as sent) but never NUL or a lone surrogate.
        if (/[\0\ud800\udc00]/u.test(text)) {
          expectProblem(await alice.api.post(`/conversations/${id}/message`, { body: text }), 400);
        }
      });
      it('in an avatarUrl and a login username', async () => {
        const { alice } = t.users;
        expectProblem(
          await alice.api.put(`/users/${alice.id}`, { avatarUrl: `https://example.com/${text}` }),
          400,
        );
        expectProblem(await new Api(t.url).post('/login', { username: text, password: 'whatever pw' }), 400);
      });
    });
  }

  it('refuses NUL in the user search', async () => {
    expectProblem(await t.users.alice.api.get('/users?q=a%00b'), 400);
  });

  for (const [what, text] of BLANK_NAMES) {
    it(`refuses a title or display name that renders blank: ${what}`, async () => {
      const { alice, bob } = t.users;
      expectProblem(await alice.api.post('/conversations', { participantIds: [bob.id], title: text }), 400);
      expectProblem(await alice.api.put(`/users/${alice.id}`, { displayName: text }), 400);
    });
  }

  it('allows newlines in message bodies, not in names', async () => {
    const { alice, bob } = t.users;
    const id = await direct(alice, bob);
    expect((await alice.api.post(`/conversations/${id}/message`, { body: NEWLINE[1] })).status).to.equal(201);
    expectProblem(await alice.api.put(`/users/${alice.id}`, { displayName: NEWLINE[1] }), 400);
    expectProblem(
      await alice.api.post('/conversations', { participantIds: [bob.id], title: NEWLINE[1] }),
      400,
    );
  });

  it('still takes ordinary text in every script, emoji included', async () => {
    const { alice, bob } = t.users;
    expect((await alice.api.put(`/users/${alice.id}`, { displayName: 'Zoë 李 😀 אבג' })).status).to.equal(
      200,
    );
    expect(
      (await alice.api.post('/conversations', { participantIds: [bob.id], title: 'Café ☕ عربي' })).status,
    ).to.equal(201);
  });
});
