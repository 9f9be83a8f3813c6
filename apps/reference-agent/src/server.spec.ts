import * as grpc from '@grpc/grpc-js';
import { connectAgent } from '../../../bench/agent-stub';
import { freePort, spawnBuilt, type Spawned } from '../../../test/support/processes';

describe('the reference agent, as a process', () => {
  let agent: Spawned;
  let target: string;
  beforeAll(async () => {
    const port = await freePort();
    target = `127.0.0.1:${port}`;
    agent = spawnBuilt('apps/reference-agent/src/main.js', {
      AGENT_PORT: String(port),
      AGENT_TOKENS_PER_SECOND: '0',
      AGENT_ALLOW_OVERRIDES: 'true',
      AGENT_LOG_CALLS: 'false',
    });
    await agent.waitFor(/listening/);
  });
  afterAll(() => agent.stop());

  it('waits out a slow reader without leaving a listener behind each time it does', async () => {
    const client = connectAgent(target);
    try {
      const call = client.StreamQuery(
        { agent_id: 'reference', query: 'what is a deadline?', options: { ref_repeat: '400' } },
        new grpc.Metadata(),
        {},
      );
      // Read in short bursts with pauses between: the agent's writes fill the window again and again.
      let chunks = 0;
      call.on('data', () => {
        if (++chunks % 200 !== 0) return;
        call.pause();
        setTimeout(() => call.resume(), 5);
      });
      await new Promise<void>((resolve, reject) => call.on('end', resolve).on('error', reject));
      expect(chunks).toBeGreaterThan(20_000);
      // Node warns once a signal has more than 10 listeners: one was left per wait.
      expect(agent.output()).not.toMatch(/MaxListenersExceededWarning/);
    } finally {
      client.close();
    }
  }, 30_000);
});
