import type { FastifyReply } from 'fastify';
import { responseOfGoneClient } from '../../../../test/support/gone-client';
import { DrainState } from '../health/drain-state';
import { Run } from './run';
import { writeRunAsSse } from './sse-writer';

describe('writeRunAsSse', () => {
  let close: () => Promise<void>;

  afterEach(() => close());

  it('lets go of the run at once when the client left before the stream began', async () => {
    const gone = await responseOfGoneClient();
    close = gone.close;
    const raw = gone.response;
    const reply = { raw, hijack: () => undefined, getHeaders: () => ({}) } as unknown as FastifyReply;
    const run = new Run('r', 'u', 'a', null);
    run.push('start', {});
    let detached = false;
    const writing = writeRunAsSse(run, -1, reply, {
      heartbeatMs: 60_000,
      retryMs: 1000,
      drain: new DrainState(),
      detach: () => (detached = true),
    }).then(() => 'let go');
    const held = new Promise((resolve) => setTimeout(() => resolve('held until the run ends'), 1000).unref());
    expect(await Promise.race([writing, held])).toBe('let go');
    expect(detached).toBe(true);
    run.push('done', {}); // (what would have let it go otherwise)
    await writing;
  });
});
