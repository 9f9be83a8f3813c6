import { status } from '@grpc/grpc-js';
import { ErrorCode } from '../errors/error-code';
import { appExceptionFromGrpc } from './grpc-errors';

describe('appExceptionFromGrpc', () => {
  it.each([
    [status.UNAVAILABLE, ErrorCode.AGENT_UNAVAILABLE, 503],
    [status.RESOURCE_EXHAUSTED, ErrorCode.AGENT_OVERLOADED, 503],
    [status.DEADLINE_EXCEEDED, ErrorCode.AGENT_TIMEOUT, 504],
    [status.INVALID_ARGUMENT, ErrorCode.AGENT_REJECTED, 400],
    [status.INTERNAL, ErrorCode.AGENT_ERROR, 502],
    [status.UNKNOWN, ErrorCode.AGENT_ERROR, 502],
  ])('maps gRPC status %i to %s (%i)', (code, errorCode, httpStatus) => {
    const error = appExceptionFromGrpc('rag-1', { code, details: 'boom' });
    expect(error).toMatchObject({ code: errorCode, status: httpStatus });
  });

  it('asks clients to come back later when the agent is unavailable', () => {
    expect(appExceptionFromGrpc('rag-1', { code: status.UNAVAILABLE }).retryAfterSeconds).toBeGreaterThan(0);
  });

  it('does not pass an internal error detail to the client', () => {
    expect(appExceptionFromGrpc('rag-1', { code: status.INTERNAL, details: 'stack at db.py:12' }).message).not.toMatch(
      /db\.py/,
    );
  });
});
