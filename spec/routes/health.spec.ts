import { expect } from 'chai';
import { Api } from '../helpers/client.ts';
import { useServer } from '../helpers/fixture.ts';
import { expectProblem } from '../helpers/problem.ts';

describe('GET /health when the database does not answer (issue 12, item 21)', () => {
  const t = useServer();

  it('answers 503 and logs the database error for the operator', async () => {
    const { log, db } = t.server.parley.deps;
    const logged: unknown[][] = [];
    const error = log.error;
    log.error = ((...args: unknown[]) => {
      logged.push(args);
    }) as typeof log.error;
    try {
      await db.destroy();
      expectProblem(await new Api(t.url).get('/health'), 503, 'unavailable');
    } finally {
      log.error = error;
    }
    const [fields] = logged.find(([, message]) => /health/.test(String(message))) ?? [];
    expect(fields, 'a log line about the failed health check').to.have.property('err').that.is.an('error');
  });
});
