import { expect } from 'chai';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

/** Sends `body` as JSON declared compressed with `encoding`. */
async function postCompressed(url: string, path: string, encoding: string, body: Uint8Array) {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding },
    body: body as BodyInit,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
}

describe('Malformed compressed bodies (issue 12, item 10)', () => {
  const t = useServer();
  const junk = new Uint8Array(Buffer.from('this is not compressed at all, just junk bytes \x00\xff\x13'));

  for (const encoding of ['gzip', 'deflate', 'br']) {
    for (const path of ['/login', '/register']) {
      it(`answers 400 to junk declared ${encoding} on ${path}`, async () => {
        expectProblem(await postCompressed(t.url, path, encoding, junk), 400, 'bad-request');
      });
    }
  }

  it('answers 415 to an encoding it does not know', async () => {
    const res = await postCompressed(t.url, '/login', 'zstd-ish', junk);
    expect(res.status).to.equal(415);
  });
});
