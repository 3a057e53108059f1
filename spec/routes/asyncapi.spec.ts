import { Parser } from '@asyncapi/parser';
import { expect } from 'chai';
import { EVENT_TYPES } from '../../lib/http/event-schemas.ts';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';

describe('GET /asyncapi.json', () => {
  const t = useServer();

  it('is an AsyncAPI 3.0 document the AsyncAPI parser accepts with no error or warning', async () => {
    const res = await new Api(t.url).get('/asyncapi.json');
    expect(res.status).to.equal(200);
    const { document, diagnostics } = await new Parser().parse(res.text);
    // Severity 0 is an error, 1 a warning.
    expect(
      diagnostics.filter((d) => d.severity <= 1).map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`),
    ).to.deep.equal([]);
    expect(document?.version()).to.equal('3.0.0');
  });

  it('describes both channels with one message per event type, the same messages on each', async () => {
    const { document } = await new Parser().parse((await new Api(t.url).get('/asyncapi.json')).text);
    const channels = document!.channels().all();
    expect(channels.map((c) => c.address())).to.have.members(['/events', '/events/poll']);
    for (const channel of channels) {
      expect(
        channel
          .messages()
          .all()
          .map((m) => m.name()),
        channel.address()!,
      ).to.have.members(EVENT_TYPES);
    }
    const created = document!
      .messages()
      .all()
      .find((m) => m.name() === 'message.created')!;
    expect(created.payload()?.properties()?.type?.const()).to.equal('message.created');
  });

  it('names this server', async () => {
    const res = await new Api(t.url).get('/asyncapi.json');
    expect(res.body.servers.parley).to.include({ host: new URL(t.url).host, protocol: 'http' });
  });
});
