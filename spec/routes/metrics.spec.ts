import { expect } from 'chai';
import { direct, send } from '../helpers/chat.ts';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';
import { SseReader } from '../helpers/sse.ts';

const TOKEN = 'metrics-token-for-the-spec';

describe('GET /metrics', () => {
  const t = useServer({ users: ['alice', 'bob'], env: { METRICS_TOKEN: TOKEN } });

  it('shows the series in Prometheus format to the holder of METRICS_TOKEN', async () => {
    const { alice, bob } = t.users;
    const conversation = await direct(alice, bob);
    const stream = await SseReader.live(t.url, bob.token);
    try {
      await send(alice, conversation, 'counted');
      await stream.nextOfType('message.created');
      const res = await fetch(`${t.url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain/);
      const text = await res.text();
      expect(text).to.match(
        /^parley_http_request_duration_seconds_bucket\{.*route="\/conversations\/:\w+\/message".*\} \d+/m,
      );
      expect(text).to.match(/^parley_open_streams 1$/m);
      expect(text).to.match(/^parley_waiting_polls 0$/m);
      expect(text).to.match(/^parley_events_logged_total\{type="message.created"\} [1-9]/m);
      expect(text).to.match(/^parley_fanout_seconds_count [1-9]/m);
      expect(text).to.match(/^parley_event_log_head_id [1-9]/m);
      expect(text).to.match(/^parley_event_log_tail_id [1-9]/m);
      expect(text).to.match(/^parley_event_log_lag_events \d+$/m);
      expect(text).to.match(/^parley_process_resident_memory_bytes /m);
    } finally {
      stream.close();
    }
  });

  it('refuses a missing or wrong token with a 401', async () => {
    expectProblem(await new Api(t.url).get('/metrics'), 401, 'unauthenticated');
    expectProblem(await new Api(t.url, 'wrong-token').get('/metrics'), 401, 'unauthenticated');
  });
});

describe('GET /metrics without METRICS_TOKEN', () => {
  const t = useServer();

  it('is off: a 404', async () => {
    expectProblem(await new Api(t.url, TOKEN).get('/metrics'), 404, 'not-found');
  });
});
