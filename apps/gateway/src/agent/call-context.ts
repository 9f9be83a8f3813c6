import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CallContext } from './agent-client';

/** The request id, and a signal that fires if the client goes away before its answer is sent. */
export function callContextOf(request: FastifyRequest, reply: FastifyReply): CallContext {
  const controller = new AbortController();
  const response = reply.raw;
  const onClose = () => {
    if (!response.writableFinished) controller.abort();
  };
  response.once('close', onClose);
  return { requestId: String(request.id), signal: controller.signal };
}
