import type { FastifyReply } from 'fastify';
import { responseOfGoneClient } from '../../../../test/support/gone-client';
import type { AuthenticatedRequest } from '../auth/auth-user';
import { callContextOf } from './call-context';

describe('callContextOf', () => {
  it('gives an already cancelled signal when the client left before the handler ran', async () => {
    const { response, close } = await responseOfGoneClient();
    try {
      const request = {
        id: 'req-1',
        headers: {},
        user: { id: 'alice', claims: {} },
      } as unknown as AuthenticatedRequest;
      const context = callContextOf(request, { raw: response } as unknown as FastifyReply);
      expect(context.signal?.cancelled).toBe(true);
    } finally {
      await close();
    }
  });
});
