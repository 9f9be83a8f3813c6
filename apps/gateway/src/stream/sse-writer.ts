import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import { onClientGone } from '../common/on-client-gone';
import type { DrainState } from '../health/drain-state';
import { isTerminal, type Run, type RunEvent } from './run';

export interface SseOptions {
  heartbeatMs: number;
  /** Suggested reconnect delay for EventSource (the `retry:` field). */
  retryMs: number;
  drain: DrainState;
  /** Counts the reader out of the run when the connection ends. */
  detach: () => void;
}

function frame(e: RunEvent): string {
  return `id: ${e.data.run_id as string}:${e.seq}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/**
 * Writes a run to the client as Server-Sent Events from a position, honouring backpressure: when
 * the socket's buffer is full it waits for 'drain' instead of queueing (the run keeps the events).
 * The response is taken over and its headers written at once; the promise settles when the
 * stream ends, and the handler need not wait for it.
 */
export function writeRunAsSse(run: Run, afterSeq: number, reply: FastifyReply, options: SseOptions): Promise<void> {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    // What the request pipeline set on the reply (X-Request-Id, RateLimit-*): a hijacked reply does
    // not send them by itself. (Fastify stores no undefined values.)
    ...(reply.getHeaders() as OutgoingHttpHeaders),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  // Sent on their own, Node flattens the header block it keeps for the response's life; sent with
  // the first chunk, it stays a rope of small strings (about 1 KB more per open stream).
  raw.flushHeaders();
  raw.write(`retry: ${options.retryMs}\n\n`);

  const cursor = run.follow(afterSeq, (event) => {
    if (isTerminal(event)) {
      raw.end(`${frame(event)}data: [DONE]\n\n`);
      return true;
    }
    return raw.write(frame(event));
  });
  // Also if the client left while the stream was set up (a session's first write, a Redis lookup).
  onClientGone(raw, () => cursor.stop());
  raw.on('drain', () => cursor.resume());
  const heartbeat = setInterval(() => raw.write(': ping\n\n'), options.heartbeatMs);
  const stopOnDrain = options.drain.onDrain(() => {
    // Tell the client where it was so it can resume on another replica, then let go.
    const resumeAt = { run_id: run.id, last_seq: cursor.position, retry_ms: options.retryMs };
    raw.end(`event: reconnect\ndata: ${JSON.stringify(resumeAt)}\n\n`);
    cursor.stop();
  });
  return cursor.ended.finally(() => {
    clearInterval(heartbeat);
    stopOnDrain();
    options.detach();
    if (!raw.writableEnded && !raw.destroyed) raw.end();
  });
}
