import { AppConfig } from '../config/app-config';
import { ConversationService } from './conversation.service';
import type { AnsweredTurn, MessageRepository } from './message.repository';
import type { SessionService } from './session.service';

/** The history `begin` sends to the agent, for a session whose answered turns are `newestFirst`. */
async function historyFor(newestFirst: AnsweredTurn[], env: Record<string, string>) {
  const sessions = {
    findOwned: () => Promise.resolve({ state: 'active', agentId: 'reference' }),
    touch: () => Promise.resolve(),
  };
  const messages = {
    latestAnsweredTurns: (_id: string, count: number) => Promise.resolve(newestFirst.slice(0, count)),
    append: () => Promise.resolve({ id: 'message-9' }),
  };
  const conversations = new ConversationService(
    sessions as unknown as SessionService,
    messages as unknown as MessageRepository,
    AppConfig.fromEnv(env),
  );
  const turn = await conversations.begin('alice', 'session-1', 'reference', 'next question', 'req-1');
  return turn.history.map((m) => `${m.role}: ${m.content}`);
}

const turns: AnsweredTurn[] = [
  { question: 'q3', answer: 'a3' },
  { question: 'q2', answer: '' }, // the agent failed before it said anything
  { question: 'q1', answer: 'a1' },
];

describe('ConversationService: the history sent with a query', () => {
  it('is the answered turns, oldest first, each question before its answer, without empty answers', async () => {
    expect(await historyFor(turns, {})).toEqual(['user: q1', 'assistant: a1', 'user: q2', 'user: q3', 'assistant: a3']);
  });

  it('keeps the newest whole turns within HISTORY_MAX_MESSAGES: never an answer without its question', async () => {
    expect(await historyFor(turns, { HISTORY_MAX_MESSAGES: '4' })).toEqual(['user: q2', 'user: q3', 'assistant: a3']);
    expect(await historyFor(turns, { HISTORY_MAX_MESSAGES: '2' })).toEqual(['user: q3', 'assistant: a3']);
    expect(await historyFor(turns, { HISTORY_MAX_MESSAGES: '0' })).toEqual([]);
  });

  it('keeps the newest whole turns within HISTORY_MAX_CHARS', async () => {
    expect(await historyFor(turns, { HISTORY_MAX_CHARS: '6' })).toEqual(['user: q2', 'user: q3', 'assistant: a3']);
    expect(await historyFor(turns, { HISTORY_MAX_CHARS: '3' })).toEqual([]);
  });
});
