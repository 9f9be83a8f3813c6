import { createTestGateway, type TestGateway } from '../../../../test/support/gateway';
import { discoverRoutes } from '../../../../test/support/routes';

/** The only routes anyone may call without a token. Adding to this list is a security decision. */
const PUBLIC_ROUTES = [
  'GET /docs',
  'GET /health',
  'GET /health/live',
  'GET /health/ready',
  'GET /health/serving',
  'GET /metrics',
];

describe('route protection', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await createTestGateway([{ id: 'reference', targets: ['127.0.0.1:1'], deadline_ms: 500 }]);
  });
  afterAll(() => gw.close());

  it('marks exactly the expected routes @Public()', () => {
    const routes = discoverRoutes(gw);
    expect(routes.length).toBeGreaterThan(PUBLIC_ROUTES.length);
    const publicRoutes = routes.filter((r) => r.isPublic).map((r) => `${r.method} ${r.path}`);
    expect(publicRoutes.sort()).toEqual([...PUBLIC_ROUTES].sort());
  });

  it('answers 401 on every other route when no token is sent', async () => {
    const guarded = discoverRoutes(gw).filter((r) => !r.isPublic);
    for (const route of guarded) {
      const res = await gw.app.inject({
        method: route.method as 'GET',
        url: route.path.replace(/:(\w+)/g, '00000000-0000-4000-8000-000000000000'),
        ...(route.method === 'GET' || route.method === 'DELETE'
          ? {}
          : { headers: { 'content-type': 'application/json' }, payload: '{}' }),
      });
      expect({ route: `${route.method} ${route.path}`, status: res.statusCode }).toEqual({
        route: `${route.method} ${route.path}`,
        status: 401,
      });
    }
  });

  it('keeps everything under /api/v1 behind the guard', () => {
    expect(discoverRoutes(gw).filter((r) => r.path.startsWith('/api/v1') && r.isPublic)).toEqual([]);
  });
});
