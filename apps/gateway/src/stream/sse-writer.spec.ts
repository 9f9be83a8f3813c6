import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyReply } from 'fastify';
import { responseOfGoneClient } from '../../../../test/support/gone-client';
import { AppConfig } from '../config/app-config';
import { DrainState } from '../health/drain-state';
import { Run } from './run';
import { SseWriter } from './sse-writer';

const replyOf = (raw: unknown) => ({ raw, hijack: () => undefined, getHeaders: () => ({}) }) as unknown as FastifyReply;

/** A run that has started and waits for its agent. */
function startedRun(id: string): Run {
  const run = new Run(id, 'u', 'a', null);
  run.push('start', {});
  return run;
}

describe('SseWriter', () => {
  let drain: DrainState;
  let writer: SseWriter;
  let server: Server | undefined;

  beforeEach(() => {
    drain = new DrainState();
    writer = new SseWriter(AppConfig.fromEnv({ NODE_ENV: 'test', STREAM_HEARTBEAT_MS: '100' }), drain);
    writer.onModuleInit();
  });

  afterEach(async () => {
    writer.onModuleDestroy();
    server?.closeAllConnections(); // streams whose runs never end
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });

  /** Each request gets the next of `runs` written as SSE; `open()` reads one such stream. */
  async function serving(runs: Run[]): Promise<{ open: () => Promise<{ text: () => string; ended: Promise<void> }> }> {
    server = createServer((_req, res) => void writer.write(runs.shift()!, -1, replyOf(res), () => undefined));
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    return {
      open: async () => {
        const response = await fetch(url);
        const reader = response.body!.getReader();
        let text = '';
        const ended = (async () => {
          for (let part = await reader.read(); !part.done; part = await reader.read())
            text += new TextDecoder().decode(part.value);
        })();
        ended.catch(() => undefined);
        return { text: () => text, ended };
      },
    };
  }

  const until = async (condition: () => boolean) => {
    for (let waited = 0; !condition() && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
    return condition();
  };

  it('lets go of the run at once when the client left before the stream began', async () => {
    const gone = await responseOfGoneClient();
    try {
      const run = startedRun('r');
      let detached = false;
      const writing = writer.write(run, -1, replyOf(gone.response), () => (detached = true)).then(() => 'let go');
      const held = new Promise((resolve) => setTimeout(() => resolve('held until the run ends'), 1000).unref());
      expect(await Promise.race([writing, held])).toBe('let go');
      expect(detached).toBe(true);
      run.push('done', {}); // (what would have let it go otherwise)
      await writing;
    } finally {
      await gone.close();
    }
  });

  it('sends every open stream a heartbeat while its agent is quiet', async () => {
    const { open } = await serving([startedRun('r1'), startedRun('r2')]);
    const streams = [await open(), await open()];
    expect(await until(() => streams.every((s) => s.text().includes(': ping')))).toBe(true);
  });

  it('on drain, tells every open stream where to resume and ends it, and one that starts after at once', async () => {
    const { open } = await serving([startedRun('r1'), startedRun('r2')]);
    const first = await open();
    expect(await until(() => first.text().includes('event: start'))).toBe(true);
    drain.begin();
    const late = await open();
    await Promise.all([first.ended, late.ended]);
    expect(first.text()).toContain('event: reconnect\ndata: {"run_id":"r1","last_seq":0,"retry_ms":1000}');
    expect(late.text()).toContain('event: reconnect\ndata: {"run_id":"r2","last_seq":0,"retry_ms":1000}');
  });
});
