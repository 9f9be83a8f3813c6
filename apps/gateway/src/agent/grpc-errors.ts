import { status as GrpcStatus } from '@grpc/grpc-js';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';

export interface GrpcError {
  code: GrpcStatus;
  details?: string;
}

export function isGrpcError(error: unknown): error is GrpcError {
  return typeof error === 'object' && error !== null && typeof (error as GrpcError).code === 'number';
}

const RETRY_AFTER_SECONDS = 1;
const MAX_DETAIL_CHARS = 300;

/** What an agent's gRPC status means for the client; internal details stay in the logs. */
export function appExceptionFromGrpc(agentId: string, error: GrpcError): AppException {
  const details = (error.details ?? '').slice(0, MAX_DETAIL_CHARS);
  switch (error.code) {
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
    case GrpcStatus.NOT_FOUND:
      return new AppException(ErrorCode.AGENT_REJECTED, `agent ${agentId} rejected the request: ${details}`);
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new AppException(ErrorCode.AGENT_TIMEOUT, `agent ${agentId} did not answer in time`);
    case GrpcStatus.UNAVAILABLE:
      return new AppException(ErrorCode.AGENT_UNAVAILABLE, `agent ${agentId} is unavailable`, RETRY_AFTER_SECONDS);
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return new AppException(ErrorCode.AGENT_OVERLOADED, `agent ${agentId} is overloaded`, RETRY_AFTER_SECONDS);
    case GrpcStatus.CANCELLED:
      return new AppException(ErrorCode.REQUEST_CANCELLED, 'request cancelled');
    default:
      return new AppException(ErrorCode.AGENT_ERROR, `agent ${agentId} failed`);
  }
}
