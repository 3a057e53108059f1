import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { expect } from 'chai';
import { build } from 'esbuild';
import type { Browser, Page } from 'puppeteer-core';
import { direct, send } from '../helpers/chat.ts';
import { useServer } from '../helpers/fixture.ts';

/** Debian's package (.ci/run installs it); PARLEY_CHROMIUM names another. */
const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';
const SDK_ENTRY = resolve(import.meta.dirname, '../../client/src/index.ts');

/** The app on the page, as plain browser JavaScript: it subscribes and keeps the message bodies. */
const APP = `
  var received = [];
  var subscription;
  async function startApp(apiUrl, token, transport) {
    const api = Parley.createApi({ baseUrl: apiUrl, token });
    const { data } = await api.GET('/conversations', {});
    received = [];
    subscription = Parley.subscribe({
      api,
      transport,
      pollTimeoutSeconds: 5,
      cursorStore: Parley.memoryCursorStore(data.eventCursor),
      onEvent: (event) => {
        if (event.type === 'message.created') received.push(event.data.body);
      },
    });
  }
`;

/**
 * The SDK in a browser: bundled as an app would bundle it, loaded by a page of another site
 * (`localhost`, while the API is on `127.0.0.1`), authenticating with the bearer token the app got
 * from POST /login, over CORS.
 */
describe('client SDK in a browser, on a page of another site', function () {
  this.timeout(60_000);
  const app: Server = createServer();
  let appOrigin: string;
  let browser: Browser;
  let page: Page;
  // Parley reads CORS_ORIGINS as it starts: the app's server listens first (hooks run in order).
  const env: Record<string, string> = {};
  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(
        `      skipped: no browser at ${CHROMIUM} (apt-get install chromium, or set PARLEY_CHROMIUM)`,
      );
      this.skip();
    }
    await new Promise<void>((done) => app.listen(0, '127.0.0.1', done));
    appOrigin = `http://localhost:${(app.address() as AddressInfo).port}`;
    env.CORS_ORIGINS = appOrigin;
    const bundle = await build({
      entryPoints: [SDK_ENTRY],
      bundle: true,
      format: 'iife',
      globalName: 'Parley',
      platform: 'browser',
      target: 'es2022',
      write: false,
    });
    const script = bundle.outputFiles[0]!.text;
    app.on('request', (req, res) => {
      if (req.url === '/sdk.js') {
        res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
      } else {
        res
          .writeHead(200, { 'Content-Type': 'text/html' })
          .end(`<!doctype html><title>app</title><script src="/sdk.js"></script><script>${APP}</script>`);
      }
    });
    const { default: puppeteer } = await import('puppeteer-core');
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    page = await browser.newPage();
    await page.goto(`${appOrigin}/`);
    expect(await page.evaluate('typeof Parley.subscribe')).to.equal('function');
  });
  const t = useServer({ users: ['alice', 'bob'], env });

  after(async () => {
    await browser?.close();
    app.close();
  });

  for (const transport of ['sse', 'poll'] as const) {
    it(`subscribes over ${transport === 'sse' ? 'SSE' : 'long-poll'} and hands over each message once, in order`, async () => {
      const { alice, bob } = t.users;
      const conversationId = await direct(alice, bob);
      // Subscribed from a state just read (GET /conversations' eventCursor), so nothing is missed.
      await page.evaluate(`startApp(${JSON.stringify([t.url, bob.token, transport]).slice(1, -1)})`);
      const bodies = ['one', 'two', 'three'].map((b) => `${b} over ${transport}`);
      for (const body of bodies) await send(alice, conversationId, body);
      await page.waitForFunction(
        (n) => (window as any).received.length >= n,
        { timeout: 15_000 },
        bodies.length,
      );
      expect(await page.evaluate(() => (window as any).received)).to.deep.equal(bodies);
      expect(await page.evaluate(() => (window as any).subscription.transport)).to.equal(transport);
      await page.evaluate(() => (window as any).subscription.close());
    });
  }
});
