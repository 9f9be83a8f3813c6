import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ErrorCode, httpStatusOf } from './error-code';

/** What Node found wrong before there was a request to route, by its error code. */
function refusalOf(nodeCode: string | undefined): { code: ErrorCode; message: string } {
  switch (nodeCode) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        code: ErrorCode.REQUEST_TIMEOUT,
        message: 'the request was not received within HTTP_REQUEST_TIMEOUT_MS',
      };
    case 'HPE_HEADER_OVERFLOW':
      return { code: ErrorCode.HEADERS_TOO_LARGE, message: "the request's headers are over 16 KB" };
    default:
      return { code: ErrorCode.MALFORMED_REQUEST, message: 'not a valid HTTP/1.1 request' };
  }
}

/**
 * Fastify's `clientErrorHandler`: a request past HTTP_REQUEST_TIMEOUT_MS, headers over Node's limit, or bytes
 * that are not HTTP never reach a route, and Fastify would answer them in a shape of its own. They get the one
 * error shape with a request id instead, then the connection is closed (it cannot be read any further).
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const { code, message } = refusalOf(error.code);
  const status = httpStatusOf(code);
  const requestId = randomUUID();
  const body = JSON.stringify({ status, code, message, request_id: requestId });
  // As Node's own handler does: bytes written into an answer already under way (a stream) would corrupt it.
  const answering = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (socket.writable && !answering) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        'X-Content-Type-Options: nosniff\r\n' +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy(error);
}
