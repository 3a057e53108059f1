import { expect } from 'chai';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

interface Item {
  name: string;
  request: {
    method: string;
    url: { raw: string };
    auth?: { type: string };
    header: { key: string; value: string }[];
    body?: { raw: string };
  };
  event: { listen: string; script: { exec: string[] } }[];
}

describe('GET /postman.json', () => {
  const t = useServer();
  let collection: {
    auth: { type: string; bearer: { key: string; value: string }[] };
    variable: { key: string; value: string }[];
    item: Item[];
  };
  before(async () => {
    const res = await new Api(t.url).get('/postman.json');
    expect(res.status).to.equal(200);
    collection = res.body;
  });

  it('points baseUrl at the server it came from and authenticates with the token login stores', () => {
    const variable = (key: string) => collection.variable.find((v) => v.key === key)?.value;
    expect(variable('baseUrl')).to.equal(new URL(t.url).origin);
    expect(collection.auth).to.deep.equal({
      type: 'bearer',
      bearer: [{ key: 'token', value: '{{token}}', type: 'string' }],
    });
    const login = collection.item.find((i) => i.request.url.raw === '{{baseUrl}}/login')!;
    expect(login.event[0]!.script.exec.join('\n')).to.include("pm.collectionVariables.set('token'");
  });

  it('registers and logs in before anything that needs a session, and signs out last', () => {
    const urls = collection.item.map((i) => `${i.request.method} ${i.request.url.raw}`);
    const firstAuthenticated = collection.item.findIndex((i) => i.request.auth?.type !== 'noauth');
    expect(urls.slice(0, firstAuthenticated)).to.include.members([
      'POST {{baseUrl}}/register',
      'POST {{baseUrl}}/login',
    ]);
    expect(urls.at(-1)).to.equal('DELETE {{baseUrl}}/users/{{userId}}');
    expect(urls).not.to.include('GET {{baseUrl}}/events');
  });

  it('sends bodies the server accepts: every request body of the collection is valid JSON with run variables', () => {
    const json = (i: Item) => i.request.header.some((h) => h.value === 'application/json');
    for (const item of collection.item.filter((i) => i.request.body && json(i))) {
      expect(() => JSON.parse(item.request.body!.raw), item.name).not.to.throw();
    }
    const register = collection.item.find((i) => i.request.url.raw === '{{baseUrl}}/register')!;
    expect(JSON.parse(register.request.body!.raw))
      .to.have.property('username')
      .that.matches(/^\{\{\w+\}\}$/);
  });
});
