import { existsSync } from 'node:fs';
import { expect } from 'chai';
import { useServer } from '../helpers/fixture.ts';

/** Debian's package (.ci/run installs it); PARLEY_CHROMIUM names another. */
const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';

describe('GET /docs in a browser with no network beyond this server', function () {
  this.timeout(60_000);
  const t = useServer();

  before(function () {
    if (existsSync(CHROMIUM)) return;
    console.log(
      `      skipped: no browser at ${CHROMIUM} (apt-get install chromium, or set PARLEY_CHROMIUM)`,
    );
    this.skip();
  });

  it('renders the reference with no request to another origin and no policy violation', async () => {
    const { default: puppeteer } = await import('puppeteer-core');
    const origin = new URL(t.url).origin;
    const browser = await puppeteer.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      const foreign: string[] = [];
      const violations: string[] = [];
      await page.setRequestInterception(true);
      page.on('request', (request) => {
        const url = request.url();
        if (url.startsWith('data:') || new URL(url).origin === origin) return void request.continue();
        foreign.push(url);
        void request.abort();
      });
      page.on('console', (message) => {
        if (/Content Security Policy/.test(message.text())) violations.push(message.text());
      });
      await page.setViewport({ width: 1280, height: 1000 });
      await page.goto(`${t.url}/docs`, { waitUntil: 'networkidle0' });
      await page.waitForSelector('.opblock-tag', { timeout: 20_000 });
      const tags = await page.$$eval('.opblock-tag', (els) => els.map((e) => e.getAttribute('data-tag')));
      expect(tags).to.include.members(['Users', 'Conversations', 'Messages', 'Events', 'Operations']);
      expect(await page.$$('.opblock')).to.have.length.greaterThan(20);
      expect(foreign).to.deep.equal([]);
      expect(violations).to.deep.equal([]);
      // For people to look at (the closing note); not an assertion.
      await page.screenshot({ path: process.env.PARLEY_DOCS_SCREENSHOT ?? '/tmp/docs-offline.png' });
    } finally {
      await browser.close();
    }
  });
});
