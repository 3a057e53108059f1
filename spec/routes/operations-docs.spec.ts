import { expect } from 'chai';
import { DOCS_POLICY } from '../../lib/http/content-security.ts';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

/** The URLs a page loads: its stylesheets, scripts and images. */
const assetsOf = (html: string): string[] =>
  [...html.matchAll(/<(?:script|link|img)\b[^>]*\b(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);

describe('GET /docs', () => {
  const t = useServer();

  it('serves the reference page under a policy that allows only its own origin and no inline script', async () => {
    const res = await new Api(t.url).get('/docs');
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.match(/^text\/html/);
    const csp = res.headers.get('content-security-policy');
    expect(csp).to.equal(DOCS_POLICY);
    expect(csp).to.include("script-src 'self'");
    expect(csp).not.to.match(/unsafe-inline|unsafe-eval|https?:|\*/);
    // Every script is a file: an inline one would be refused by the policy above.
    const scripts = [...res.text.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).to.be.greaterThan(0);
    for (const [, attributes, inline] of scripts) {
      expect(attributes).to.match(/\bsrc="/);
      expect(inline!.trim()).to.equal('');
    }
  });

  it('references only files of this origin, and each of them loads', async () => {
    const api = new Api(t.url);
    const page = await api.get('/docs');
    const assets = assetsOf(page.text);
    expect(assets).to.include.members([
      '/docs/swagger-ui.css',
      '/docs/swagger-ui-bundle.js',
      '/docs/start.js',
    ]);
    for (const asset of assets) {
      expect(new URL(asset, t.url).origin, asset).to.equal(new URL(t.url).origin);
      const res = await api.get(asset);
      expect(res.status, asset).to.equal(200);
      expect(res.headers.get('content-type'), asset).to.match(
        asset.endsWith('.css') ? /^text\/css/ : /^text\/javascript/,
      );
      expect(res.text.length, asset).to.be.greaterThan(0);
    }
    // The start-up script names the document on this origin and turns off the remote validator.
    const start = await api.get('/docs/start.js');
    expect(start.text).to.include("getAttribute('data-openapi-url')").and.include('validatorUrl: null');
    expect(page.text).to.include('data-openapi-url="/openapi.json"');
  });

  it('answers 404 for a file that is not part of the reference', async () => {
    const api = new Api(t.url);
    for (const name of ['index.html', 'package.json', '..%2Fpackage.json', 'swagger-ui.js.map']) {
      expectProblem(await api.get(`/docs/${name}`), 404, 'not-found');
    }
  });
});

describe('the Content-Security-Policy', () => {
  const t = useServer({ users: ['alice'] });

  it('is the strict one on API answers, errors included', async () => {
    const api = new Api(t.url);
    for (const res of [
      await api.get('/health'),
      await api.get('/openapi.json'),
      await api.get('/nowhere'),
      await t.users.alice.api.get('/conversations'),
      await api.get('/conversations'),
    ]) {
      expect(res.headers.get('content-security-policy')?.replace(/;\s*/g, '; ')).to.equal(
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      );
    }
  });
});

describe('GET /openapi.json servers', () => {
  const t = useServer();
  const proxied = useServer({ env: { TRUST_PROXY: 'true' } });

  it('names the origin the client reached', async () => {
    const res = await new Api(t.url).get('/openapi.json');
    expect(res.body.servers).to.deep.equal([{ url: new URL(t.url).origin, description: 'This server' }]);
  });

  it('names the public origin behind a trusted proxy', async () => {
    const res = await new Api(proxied.url).get('/openapi.json', {
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Host': 'chat.example.org',
    });
    expect(res.body.servers[0].url).to.equal('https://chat.example.org');
  });
});

describe('GET /', () => {
  const t = useServer();

  it('points a newcomer to the reference, the OpenAPI document and the health check', async () => {
    const res = await new Api(t.url).get('/');
    expect(res.status).to.equal(200);
    expect(res.body).to.include({ docs: '/docs', openapi: '/openapi.json', health: '/health' });
    expect((await new Api(t.url).get(res.body.docs)).status).to.equal(200);
  });
});
