import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { onClientGone } from '../common/on-client-gone';
import { AppConfig } from '../config/app-config';
import { DrainState } from '../health/drain-state';
import { OpenStreams } from './open-streams';
import { isTerminal, type Run, type RunCursor, type RunEvent } from './run';

/** Suggested reconnect delay for EventSource (the `retry:` field). */
const RESUME_RETRY_MS = 1000;

/** An event stream being written: its response and its reader. */
interface OpenStream {
  raw: ServerResponse;
  run: Run;
  cursor: RunCursor;
}

function frame(e: RunEvent): string {
  return `id: ${e.data.run_id as string}:${e.seq}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`;
}

/**
 * Writes runs to clients as Server-Sent Events; the open streams get their heartbeat, and where to
 * resume when the gateway drains, through one OpenStreams.
 */
@Injectable()
export class SseWriter implements OnModuleInit, OnModuleDestroy {
  private readonly open: OpenStreams<OpenStream>;

  constructor(config: AppConfig, drain: DrainState) {
    this.open = new OpenStreams({ everyMs: config.stream.heartbeatMs, tick: ping, drain, onDrain: moveOn });
  }

  onModuleInit(): void {
    this.open.start();
  }

  onModuleDestroy(): void {
    this.open.stop();
  }

  /**
   * Writes a run to the client from a position, honouring backpressure: when the socket's buffer is
   * full it waits for 'drain' instead of queueing (the run keeps the events). The response is taken
   * over and its headers written at once; the promise settles when the stream ends, and the handler
   * need not wait for it. `detach` counts the reader out of the run then.
   */
  write(run: Run, afterSeq: number, reply: FastifyReply, detach: () => void): Promise<void> {
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
    raw.write(`retry: ${RESUME_RETRY_MS}\n\n`);

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
    const stream: OpenStream = { raw, run, cursor };
    this.open.add(stream);
    return cursor.ended.finally(() => {
      this.open.delete(stream);
      detach();
      if (!raw.writableEnded && !raw.destroyed) raw.end();
    });
  }
}

/** A comment line, so that proxies do not close a stream that is quiet while the agent thinks. */
function ping({ raw }: OpenStream): void {
  if (!raw.writableEnded) raw.write(': ping\n\n');
}

/** On drain: where the client was, so it can resume on another replica, then the stream let go. */
function moveOn({ raw, run, cursor }: OpenStream): void {
  const resumeAt = { run_id: run.id, last_seq: cursor.position, retry_ms: RESUME_RETRY_MS };
  raw.end(`event: reconnect\ndata: ${JSON.stringify(resumeAt)}\n\n`);
  cursor.stop();
}
