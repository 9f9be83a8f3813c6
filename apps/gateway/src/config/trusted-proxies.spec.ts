import { UpgradeRefused, WsClient } from '../../../../test/support/clients';
import { createTestGateway, type TestGateway } from '../../../../test/support/gateway';
import { AppConfig } from './app-config';
import { trustProxySchema } from './trusted-proxies';

describe('TRUST_PROXY', () => {
  it('takes a hop count, or addresses and CIDR ranges, and refuses anything else', () => {
    const twoHops = trustProxySchema.parse('2')!;
    expect([0, 1, 2].map((hop) => twoHops('203.0.113.1', hop))).toEqual([true, true, false]);
    const ranges = trustProxySchema.parse(' 10.0.0.0/8, loopback ')!;
    expect(['10.1.2.3', '127.0.0.1', '::1', '8.8.8.8'].map((a) => ranges(a, 0))).toEqual([true, true, true, false]);
    expect(trustProxySchema.parse('')).toBeUndefined();
    expect(() => AppConfig.fromEnv({ TRUST_PROXY: 'the load balancer' })).toThrow(/TRUST_PROXY/);
  });

  /** Requests without a valid token are limited by address: the client's, as trusted proxies say. */
  describe.each([
    { trusted: 'loopback', shared: false },
    { trusted: undefined, shared: true },
  ])('with TRUST_PROXY=$trusted', ({ trusted, shared }) => {
    let gw: TestGateway;

    beforeAll(async () => {
      gw = await createTestGateway([{ id: 'reference', targets: ['127.0.0.1:9'] }], {
        RATE_LIMITS: JSON.stringify([{ name: 'minute', ttl_ms: 60_000, limit: 3 }]),
        ...(trusted ? { TRUST_PROXY: trusted } : {}),
      });
    });

    afterAll(() => gw.close());

    const statusesFrom = async (forwardedFor: string, times: number, peer = '127.0.0.1') => {
      const statuses = [];
      for (let i = 0; i < times; i++) {
        const headers = { 'x-forwarded-for': forwardedFor };
        statuses.push(
          (await gw.app.inject({ method: 'GET', url: '/api/v1/agents', headers, remoteAddress: peer })).statusCode,
        );
      }
      return statuses;
    };

    it(
      shared ? 'ignores X-Forwarded-For: anyone could send one' : 'limits each client behind the proxy apart',
      async () => {
        expect(await statusesFrom('203.0.113.1', 4)).toEqual([401, 401, 401, 429]);
        expect(await statusesFrom('203.0.113.2', 1)).toEqual([shared ? 429 : 401]);
        // A peer that is not a trusted proxy is the client, whatever it forwards.
        expect(await statusesFrom('203.0.113.3', 4, '198.51.100.9')).toEqual([401, 401, 401, 429]);
      },
    );

    it('counts WebSocket upgrades by the same address', async () => {
      const url = `${(await gw.listen()).replace('http', 'ws')}/api/v1/stream`;
      const upgrade = (forwardedFor: string) =>
        WsClient.connect(url, { 'x-forwarded-for': forwardedFor }).then(
          (client) => (client.close(), 101),
          (refused: UpgradeRefused) => refused.status,
        );
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await upgrade('192.0.2.1'));
      expect(statuses).toEqual([401, 401, 401, 429]);
      expect(await upgrade('192.0.2.2')).toBe(shared ? 429 : 401);
    });
  });
});
