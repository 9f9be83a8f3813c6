import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { CancelSignal } from '../common/cancel-signal';
import { AppConfig } from '../config/app-config';
import { connectionId } from '../../../../test/support/redis';
import { RedisService } from '../redis/redis.service';
import { FEED_BLOCK_MS, RemoteRunFeed } from './remote-run-feed';
import { Run, type RunEvent } from './run';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Against the real Redis the tests use: the feed is Redis commands and their timing. */
describe('RemoteRunFeed', () => {
  const prefix = `test-feed-${randomUUID()}:`;
  let client: Redis;
  let reader: Redis;
  let feed: RemoteRunFeed;
  let warnings: Error[];

  beforeEach(() => {
    const mine: Error[] = [];
    warnings = mine; // a feed of an earlier test may still warn (its connection closed under its read)
    client = new Redis(REDIS_URL);
    reader = new Redis(REDIS_URL);
    feed = new RemoteRunFeed(reader, client, `${prefix}wake:${randomUUID()}`, 5_000, (e) => mine.push(e));
  });

  afterEach(async () => {
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    client.disconnect();
    reader.disconnect();
  });

  const keysOf = (runId: string) => ({ events: `${prefix}${runId}:events`, lease: `${prefix}${runId}:lease` });
  const write = (runId: string, seq: number, event: RunEvent['event'], data: Record<string, unknown> = {}) =>
    client.xadd(keysOf(runId).events, '*', 'e', JSON.stringify({ seq, event, data: { run_id: runId, ...data } }));
  const follow = (runId: string, signal = new CancelSignal()) =>
    feed.follow(runId, keysOf(runId), () => new Run(runId, 'u', 'a', null), signal);
  const nextEvent = (run: Run) => new Promise<RunEvent>((resolve) => run.once('event', resolve));

  it('delivers a newly followed run at once, not when the read already waiting times out', async () => {
    await write('quiet', 0, 'start');
    follow('quiet');
    await new Promise((r) => setTimeout(r, 100)); // the feed's read is now blocked on the quiet run
    await write('busy', 0, 'start');
    const started = Date.now();
    const run = follow('busy');
    await nextEvent(run);
    expect(Date.now() - started).toBeLessThan(FEED_BLOCK_MS / 2);
  });

  it('reads a run once for all its readers here, and keeps its lease while any of them reads', async () => {
    await write('shared', 0, 'start');
    const [first, second] = [new CancelSignal(), new CancelSignal()];
    const run = follow('shared', first);
    expect(follow('shared', second)).toBe(run);
    expect(follow('shared', second)).toBe(run); // the same client again: still two readers
    expect(feed.size).toBe(1);
    await client.del(keysOf('shared').lease);
    await new Promise((r) => setTimeout(r, FEED_BLOCK_MS + 200));
    expect(await client.exists(keysOf('shared').lease)).toBe(1);

    first.cancel();
    expect(feed.size).toBe(1);
    second.cancel();
    expect(feed.size).toBe(0);
  });

  it('ends a run whose stream is gone without a final event with RUN_LOST', async () => {
    await write('gone', 0, 'start');
    const run = follow('gone');
    await nextEvent(run);
    const end = nextEvent(run);
    await client.del(keysOf('gone').events);
    expect((await end).data).toMatchObject({ code: 'RUN_LOST' });
    expect(run.finished).toBe(true);
    expect(feed.size).toBe(0);
  });

  it('stops following a run at its final event', async () => {
    await write('short', 0, 'start');
    await write('short', 1, 'chunk', { text: 'hi' });
    await write('short', 2, 'done', { answer: 'hi' });
    const run = follow('short');
    await new Promise<void>((resolve) => run.on('event', (e: RunEvent) => e.event === 'done' && resolve()));
    expect(run.events.map((e) => e.event)).toEqual(['start', 'chunk', 'done']);
    expect(feed.size).toBe(0);
    expect(warnings).toEqual([]);
  });

  it("keeps following through a dropped connection that comes back (the gateway's blocking connection)", async () => {
    const redis = new RedisService(AppConfig.fromEnv({ REDIS_URL, REDIS_KEY_PREFIX: prefix }));
    const blocking = redis.duplicate('follow:blip', { blocking: true });
    try {
      const mine: Error[] = [];
      const blipFeed = new RemoteRunFeed(blocking, client, `${prefix}wake:${randomUUID()}`, 5_000, (e) => mine.push(e));
      await write('blip', 0, 'start');
      const run = blipFeed.follow('blip', keysOf('blip'), () => new Run('blip', 'u', 'a', null), new CancelSignal());
      await nextEvent(run);
      // Its read is blocked now; Redis drops the connection under it (a failover, a network blip).
      await client.client('KILL', 'ID', (await connectionId(client, `${prefix}follow:blip`))!);
      const next = nextEvent(run);
      await write('blip', 1, 'chunk', { text: 'still here' });
      const nothing = new Promise((resolve) => setTimeout(resolve, 3000, 'nothing in 3 s'));
      expect(await Promise.race([next, nothing])).toMatchObject({ event: 'chunk', data: { text: 'still here' } });
      expect(mine).toEqual([]);
    } finally {
      blocking.disconnect(); // not QUIT: behind a read that was lost, it would wait for ever
      await redis.onApplicationShutdown();
    }
  });

  it('ends its runs with RUN_LOST, without a warning, when its connection is closed on purpose', async () => {
    await write('closed', 0, 'start');
    const run = follow('closed');
    await nextEvent(run);
    const ended = nextEvent(run);
    reader.disconnect(); // shutdown, or a feed retired after a peak
    expect((await ended).data).toMatchObject({ code: 'RUN_LOST' });
    expect(warnings).toEqual([]);
  });
});
