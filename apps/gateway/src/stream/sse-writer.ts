import { once } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
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
 * The response is taken over and its headers written before the first await.
 */
export async function writeRunAsSse(
  run: Run,
  afterSeq: number,
  request: FastifyRequest,
  reply: FastifyReply,
  options: SseOptions,
): Promise<void> {
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-request-id': String(request.id),
  });
  raw.write(`retry: ${options.retryMs}\n\n`);

  const closed = new AbortController();
  raw.once('close', () => closed.abort());
  let lastSeq = afterSeq;
  const heartbeat = setInterval(() => raw.write(': ping\n\n'), options.heartbeatMs);
  const stopOnDrain = options.drain.onDrain(() => {
    // Tell the client where it was so it can resume on another replica, then let go.
    raw.write(
      `event: reconnect\ndata: ${JSON.stringify({ run_id: run.id, last_seq: lastSeq, retry_ms: options.retryMs })}\n\n`,
    );
    raw.end();
    closed.abort();
  });
  try {
    for await (const event of run.read(afterSeq, closed.signal)) {
      lastSeq = event.seq;
      if (!raw.write(frame(event))) {
        await Promise.race([once(raw, 'drain'), once(closed.signal, 'abort')]);
      }
      if (isTerminal(event)) {
        raw.write('data: [DONE]\n\n');
        raw.end();
      }
    }
  } finally {
    clearInterval(heartbeat);
    stopOnDrain();
    options.detach();
    if (!raw.writableEnded && closed.signal.aborted === false) raw.end();
  }
}
