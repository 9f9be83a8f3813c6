import { Logger } from '@nestjs/common';
import type { AgentClient } from '../agent/agent-client';
import type { StreamResult } from '../agent/agent-stream';
import { AppConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import type { ConversationService, Turn } from '../session/conversation.service';
import type { Run, RunEvent } from './run';
import type { RunMirror } from './run-mirror';
import type { RunRegistry } from './run-registry';
import { StreamService } from './stream.service';
import type { StreamQuota } from './stream-quota';

const caller = { userId: 'user-1', requestId: 'req-1' };
const turn: Turn = {
  sessionId: 'session-1',
  userMessageId: 'message-1',
  requestId: 'req-1',
  history: [],
  contextJson: '{}',
};
const answer: StreamResult = { answer: 'hello', sources: [], usage: null };

/** A StreamService whose agent call ends as `outcome` says, in a session whose store does what `store` says. */
function service(outcome: () => Promise<StreamResult>, store: Partial<ConversationService> = {}): StreamService {
  const agents = { assertKnown: () => undefined, stream: outcome } as unknown as AgentClient;
  const conversations = {
    begin: () => Promise.resolve(turn),
    complete: () => Promise.resolve(),
    fail: () => Promise.resolve(),
    ...store,
  } as unknown as ConversationService;
  const registry = { add: () => undefined } as unknown as RunRegistry;
  const quota = { acquire: () => Promise.resolve(), release: () => undefined } as unknown as StreamQuota;
  return new StreamService(agents, conversations, registry, quota, {} as RunMirror, AppConfig.fromEnv({}));
}

/** The run's events once its registry is told it is over. */
function ended(run: Run): Promise<RunEvent[]> {
  return new Promise((resolve) => run.once('finished', () => resolve(run.events)));
}

const query = { agent_id: 'reference', query: 'hi', session_id: turn.sessionId, options: {} };

/**
 * What a client reads at the end of a stream that failed, and what the operator finds in the log:
 * the client only ever sees "internal error" for a fault of ours, so its cause must be logged.
 */
describe('StreamService: a stream that fails', () => {
  let logged: jest.SpyInstance;
  const unhandled = jest.fn();

  beforeEach(() => {
    logged = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    process.on('unhandledRejection', unhandled);
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.off('unhandledRejection', unhandled);
    unhandled.mockReset();
  });

  it('on a fault of ours, ends with INTERNAL for the client and logs the cause with the run and request', async () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'text')");
    const run = await service(() => Promise.reject(bug)).start(query, caller);
    const events = await ended(run);
    expect(events.at(-1)).toMatchObject({
      event: 'error',
      data: { code: ErrorCode.INTERNAL, message: 'internal error' },
    });
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({ err: bug, run_id: run.id, request_id: 'req-1' }),
      'unhandled error',
    );
  });

  it("on the agent's failure, tells the client what it was and logs nothing more", async () => {
    const down = new AppException(ErrorCode.AGENT_UNAVAILABLE, 'agent reference is unavailable');
    const run = await service(() => Promise.reject(down)).start(query, caller);
    const events = await ended(run);
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { code: ErrorCode.AGENT_UNAVAILABLE } });
    expect(logged).not.toHaveBeenCalled();
  });

  it('when the database is down at its end, still ends with an error event, and logs the turn it could not record', async () => {
    const down = () => Promise.reject(new Error('connection terminated unexpectedly'));
    const run = await service(() => Promise.resolve(answer), { complete: down, fail: down }).start(query, caller);
    const events = await ended(run);
    expect(events.map((e) => e.event)).toEqual(['start', 'error']);
    expect(logged).toHaveBeenCalledWith(
      expect.objectContaining({ run_id: run.id, request_id: 'req-1', session_id: turn.sessionId }),
      'could not record a failed turn',
    );
  });

  it('when even its ending fails, still ends for its readers, logged, without an unhandled rejection', async () => {
    // The answer came, the database failed to store it, and recording the failure threw as well
    // (a bug: it returns a rejected promise, never throws): nothing is left to push the error event.
    const storeDown = () => Promise.reject(new Error('connection terminated'));
    const broken = () => {
      throw new TypeError('not a promise');
    };
    const run = await service(() => Promise.resolve(answer), { complete: storeDown, fail: broken }).start(
      query,
      caller,
    );
    const events = await ended(run);
    expect(events.map((e) => e.event)).toEqual(['start', 'error']);
    expect(events.at(-1)).toMatchObject({ data: { code: ErrorCode.INTERNAL } });
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).not.toHaveBeenCalled();
    expect(logged).toHaveBeenCalledWith(expect.objectContaining({ run_id: run.id }), 'a stream did not end cleanly');
  });
});
