import autocannon from 'autocannon';

/**
 * One autocannon run in its own process, so the load generator never shares an event loop with the
 * orchestrator. Options arrive as JSON in argv[2]; the summary leaves as one JSON line on stdout.
 */
const options = JSON.parse(process.argv[2] ?? '{}') as autocannon.Options;
const result = await autocannon(options);
const { latency, requests } = result;
process.stdout.write(
  `${JSON.stringify({
    rps: requests.average,
    total: requests.total,
    durationS: result.duration,
    p50: latency.p50,
    p90: latency.p90,
    p99: latency.p99,
    max: latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: (result as unknown as { statusCodeStats?: Record<string, { count: number }> })
      .statusCodeStats,
  })}\n`,
);
