import { createTestGateway, type TestGateway } from '../../../../test/support/gateway';
import { discoverRoutes } from '../../../../test/support/routes';
import { MAX_QUERY_CHARS } from '../agent/agent.dto';

type Operation = { security?: unknown[]; responses: Record<string, { content?: Record<string, { schema: unknown }> }> };

describe('GET /docs', () => {
  let gw: TestGateway;
  let doc: {
    openapi: string;
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, { properties?: Record<string, { maxLength?: number }> }> };
  };

  beforeAll(async () => {
    gw = await createTestGateway([{ id: 'reference', targets: ['127.0.0.1:1'] }]);
    const res = await gw.app.inject({ method: 'GET', url: '/docs' });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  }, 30_000);
  afterAll(() => gw.close());

  it('documents every route the app serves', () => {
    expect(doc.openapi).toMatch(/^3\./);
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)),
    );
    const served = discoverRoutes(gw)
      .filter((r) => r.path !== '/docs')
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
    expect(served.filter((r) => !documented.has(r))).toEqual([]);
  });

  it('puts the bearer scheme and the error shape on every /api/v1 operation', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/v1')) continue;
      for (const op of Object.values(ops)) {
        expect(op.security).toEqual([{ bearer: [] }]);
        expect(op.responses['401'].content!['application/json'].schema).toEqual({
          $ref: '#/components/schemas/ErrorBodyDto',
        });
      }
    }
    expect(Object.keys(doc.components.schemas.ErrorBodyDto.properties!)).toEqual([
      'status',
      'code',
      'message',
      'request_id',
    ]);
  });

  it('is generated from the validation schemas (same bounds)', () => {
    expect(doc.components.schemas.QueryRequestDto.properties!.query.maxLength).toBe(MAX_QUERY_CHARS);
    expect(doc.paths['/api/v1/agent/query'].post.responses['200'].content!['application/json'].schema).toEqual({
      $ref: '#/components/schemas/QueryResponseDto',
    });
    // A client generated from the document knows the 409 a session's bound answers with.
    expect(doc.paths['/api/v1/session'].post.responses['409'].content!['application/json'].schema).toEqual({
      $ref: '#/components/schemas/ErrorBodyDto',
    });
  });
});
