import { Logger } from '@nestjs/common';
import { CancelSignal } from '../common/cancel-signal';
import { AppConfig } from '../config/app-config';
import { MetricsService } from '../observability/metrics.service';
import { AgentClient } from './agent-client';

const request = {
  session_id: '',
  agent_id: 'down',
  query: 'q',
  options: {},
  history: [],
  request_id: 'r',
  context_json: '',
};

describe('AgentClient', () => {
  let client: AgentClient;

  beforeEach(() => {
    Logger.overrideLogger(false);
    // Nothing listens on port 1: every attempt fails UNAVAILABLE at once, and is retried after a backoff.
    const config = AppConfig.fromEnv({
      JWT_SECRET: 'agent-client-spec-secret-0123456789-0123',
      AGENTS: JSON.stringify([
        {
          id: 'down',
          targets: ['127.0.0.1:1'],
          deadline_ms: 60_000,
          breaker: { volume_threshold: 100 },
          retry: { max_attempts: 3, base_backoff_ms: 10_000, max_backoff_ms: 10_000, min_retries_per_second: 100 },
        },
      ]),
    });
    client = new AgentClient(config, new MetricsService());
  });

  afterEach(() => {
    client.onApplicationShutdown();
    jest.restoreAllMocks();
  });

  it('stops waiting to retry as soon as the caller cancels: a client that left costs no backoff', async () => {
    jest.spyOn(Math, 'random').mockReturnValue(0.99); // a backoff of 9.9 s
    const signal = new CancelSignal();
    const started = Date.now();
    const outcome = client.query('down', request, { userId: 'u', requestId: 'r', signal }).catch((e: unknown) => e);
    setTimeout(() => signal.cancel(), 300);
    await expect(outcome).resolves.toMatchObject({ code: 'REQUEST_CANCELLED' });
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('does not call an agent for a caller that has already gone', async () => {
    const signal = new CancelSignal();
    signal.cancel();
    const outcome = client.query('down', request, { userId: 'u', requestId: 'r', signal });
    await expect(outcome).rejects.toMatchObject({ code: 'REQUEST_CANCELLED' });
  });
});
