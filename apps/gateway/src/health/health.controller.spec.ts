import { createTestGateway, type TestGateway } from '../../../../test/support/gateway';
import { startReferenceAgent, type RunningAgent } from '../../../../test/support/reference-agent';

/** Nothing listens on port 1: a target that never serves. */
const DEAD_TARGET = '127.0.0.1:1';

describe('health probes, which anyone may call', () => {
  let agent: RunningAgent;
  let gw: TestGateway | undefined;

  beforeAll(async () => {
    agent = await startReferenceAgent();
  });

  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  afterAll(() => agent?.stop());

  const readiness = async (env: Record<string, string> = {}) => {
    gw = await createTestGateway([{ id: 'reference', targets: [agent.target, DEAD_TARGET] }], env);
    const ready = await gw.app.inject({ method: 'GET', url: '/health/ready' });
    expect(ready.statusCode).toBe(200);
    return ready;
  };

  it('say up or down and how many targets serve, never an address or an error text', async () => {
    const ready = await readiness();
    expect(ready.json().info['agent:reference']).toEqual({ status: 'up', serving: 1, total: 2 });
    expect(ready.json().info.shutdown).toEqual({ status: 'up', draining: false });
    expect(ready.body).not.toContain('127.0.0.1');
    const details = await gw!.app.inject({ method: 'GET', url: '/health' });
    expect(details.body).not.toContain('127.0.0.1');
  });

  it('name each target and its state with HEALTH_DETAILS=true', async () => {
    const ready = await readiness({ HEALTH_DETAILS: 'true' });
    expect(ready.json().info['agent:reference']).toEqual({
      status: 'up',
      serving: 1,
      total: 2,
      targets: [
        { target: agent.target, serving: true, detail: 'SERVING' },
        { target: DEAD_TARGET, serving: false, detail: expect.any(String) },
      ],
    });
  });
});
