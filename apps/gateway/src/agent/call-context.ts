import type { FastifyReply } from 'fastify';
import type { AuthenticatedRequest } from '../auth/auth-user';
import { onClientGone } from '../common/on-client-gone';
import { CancelSignal } from '../common/cancel-signal';
import { traceparentOf } from '../observability/trace-context';
import type { CallContext } from './agent-client';

/** A request whose agent call may answer other callers too (the answer cache's shared misses). */
export type CallerRequest = AuthenticatedRequest & {
  /** The shared call's cancel, to use instead of this client's leaving: it fires once every caller has left. */
  sharedCallSignal?: CancelSignal;
};

/** Runs `listener` if the client goes away before its answer is sent (not when the response ends). */
export function onClientLeft(reply: FastifyReply, listener: () => void): void {
  const response = reply.raw;
  onClientGone(response, () => {
    if (!response.writableFinished) listener();
  });
}

function cancelledWhenClientLeaves(reply: FastifyReply): CancelSignal {
  const signal = new CancelSignal();
  onClientLeft(reply, () => signal.cancel());
  return signal;
}

/**
 * The caller, the request id, and a signal cancelled if the client goes away before its answer is
 * sent, or, for a call shared by several callers, once all of them have.
 */
export function callContextOf(request: CallerRequest, reply: FastifyReply): CallContext {
  const signal = request.sharedCallSignal ?? cancelledWhenClientLeaves(reply);
  if (!request.user) throw new Error('agent calls need an authenticated request');
  return {
    userId: request.user.id,
    requestId: String(request.id),
    traceparent: traceparentOf(request.headers.traceparent),
    signal,
  };
}
