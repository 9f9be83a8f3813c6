import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
  json: () => Record<string, unknown>;
}

/**
 * Reads Server-Sent Events from a fetch response until the stream ends, `stopAfter` events have
 * arrived (then the connection is dropped, as a client going away would), or `[DONE]`.
 */
export async function readSse(
  response: Response,
  stopAfter = Infinity,
  onEvent: (e: SseEvent) => void = () => undefined,
): Promise<{ events: SseEvent[]; sawDone: boolean }> {
  const events: SseEvent[] = [];
  let sawDone = false;
  const parser = createParser({
    onEvent: (m: EventSourceMessage) => {
      if (m.data === '[DONE]') {
        sawDone = true;
        return;
      }
      const event = {
        id: m.id,
        event: m.event ?? 'message',
        data: m.data,
        json: () => JSON.parse(m.data) as Record<string, unknown>,
      };
      events.push(event);
      onEvent(event);
    },
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  try {
    while (events.length < stopAfter && !sawDone) {
      const { done, value } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return { events, sawDone };
}

export function sseRequest(
  base: string,
  token: string,
  body: object,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/api/v1/agent/stream`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

export interface WsMessage {
  event: string;
  data: Record<string, unknown>;
}

/** A `ws` client that collects every message and can wait for one that matches. */
/** A WebSocket upgrade answered with an HTTP status instead of 101: what a client can read of it. */
export class UpgradeRefused extends Error {
  constructor(
    readonly status: number,
    readonly headers: IncomingHttpHeaders,
    readonly body: string,
  ) {
    super(`upgrade refused: ${status} ${body}`);
  }
}

export class WsClient {
  readonly messages: WsMessage[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      this.messages.push(JSON.parse((raw as Buffer).toString('utf8')) as WsMessage);
      this.waiters.forEach((w) => w());
    });
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.once('open', () => resolve(new WsClient(socket)));
      socket.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => reject(new UpgradeRefused(res.statusCode ?? 0, res.headers, body)));
      });
      socket.once('error', reject);
    });
  }

  send(event: string, data: unknown): void {
    this.socket.send(JSON.stringify({ event, data }));
  }

  waitFor(predicate: (m: WsMessage) => boolean, timeoutMs = 10_000): Promise<WsMessage> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.messages.find(predicate);
        if (!found) return;
        this.waiters = this.waiters.filter((w) => w !== check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(
        () => reject(new Error(`no matching message in ${JSON.stringify(this.messages)}`)),
        timeoutMs,
      );
      this.waiters.push(check);
      check();
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** Reads a stream to its end like readSse; `runId()` is its run id once the `start` event has come. */
export function readSseNotingRun(
  response: Response,
  onEvent: (e: SseEvent) => void = () => undefined,
): { reading: ReturnType<typeof readSse>; runId: () => string } {
  let runId = '';
  const reading = readSse(response, Infinity, (e) => {
    if (e.event === 'start') runId = e.json().run_id as string;
    onEvent(e);
  });
  return { reading, runId: () => runId };
}

/** POST …/stream/:run_id/cancel on the gateway at `base`. */
/** A stream ticket for `token`'s user (`POST /agent/stream/ticket`), failing the test unless it is issued. */
export async function streamTicket(base: string, token: string): Promise<string> {
  const issued = await fetch(`${base}/api/v1/agent/stream/ticket`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  if (issued.status !== 201) throw new Error(`ticket refused: ${issued.status} ${await issued.text()}`);
  return ((await issued.json()) as { ticket: string }).ticket;
}

export function cancelRun(base: string, token: string, runId: string): Promise<Response> {
  return fetch(`${base}/api/v1/agent/stream/${runId}/cancel`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
}

/** Polls until `condition` holds or the time is up; returns whether it held. */
export async function eventually(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return condition();
}
