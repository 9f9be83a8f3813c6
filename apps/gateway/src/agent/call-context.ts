import type { FastifyReply } from 'fastify';
import type { AuthenticatedRequest } from '../auth/auth-user';
import { onClientGone } from '../common/on-client-gone';
import { CancelSignal } from '../common/cancel-signal';
import { traceparentOf } from '../observability/trace-context';
import type { CallContext } from './agent-client';

/** The caller, the request id, and a signal cancelled if the client goes away before its answer is sent. */
export function callContextOf(request: AuthenticatedRequest, reply: FastifyReply): CallContext {
  const signal = new CancelSignal();
  const response = reply.raw;
  const onClose = () => {
    if (!response.writableFinished) signal.cancel();
  };
  onClientGone(response, onClose);
  if (!request.user) throw new Error('agent calls need an authenticated request');
  return {
    userId: request.user.id,
    requestId: String(request.id),
    traceparent: traceparentOf(request.headers.traceparent),
    signal,
  };
}
