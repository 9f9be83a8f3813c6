import { Injectable } from '@nestjs/common';
import type { HistoryMessage, Source, Usage } from '@app/contracts';
import { AppConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { MessageRepository } from './message.repository';
import { sessionClosed } from './session-errors';
import { SessionService } from './session.service';

/** One question-and-answer exchange in a session, between its two writes. */
export interface Turn {
  sessionId: string;
  userMessageId: string;
  requestId: string;
  /** Earlier messages for the agent, oldest first, bounded by count and size. */
  history: HistoryMessage[];
  /** The session's context for the agent, as JSON text. */
  contextJson: string;
}

export interface CompletedAnswer {
  answer: string;
  sources: Source[];
  usage: Usage | null;
  latencyMs: number;
  agentResponseId: string;
}

/**
 * Stores a conversation around each agent call: the user's message before the call (so it is
 * never lost), the answer after it, or what was produced, marked incomplete, when the call failed.
 */
@Injectable()
export class ConversationService {
  constructor(
    private readonly sessions: SessionService,
    private readonly messages: MessageRepository,
    private readonly config: AppConfig,
  ) {}

  async begin(userId: string, sessionId: string, agentId: string, query: string, requestId: string): Promise<Turn> {
    const session = await this.sessions.findOwned(userId, sessionId);
    if (session.state === 'closed') throw sessionClosed(sessionId);
    if (session.agentId !== agentId) {
      throw new AppException(ErrorCode.VALIDATION_FAILED, `session ${sessionId} belongs to agent ${session.agentId}`);
    }
    const [history] = await Promise.all([this.history(sessionId), this.sessions.touch(sessionId)]);
    const userMessage = await this.messages.append({
      sessionId,
      role: 'user',
      content: query,
      metadata: { request_id: requestId },
    });
    return {
      sessionId,
      userMessageId: userMessage.id,
      requestId,
      history,
      contextJson: JSON.stringify(session.context),
    };
  }

  async complete(turn: Turn, answer: CompletedAnswer): Promise<void> {
    await this.messages.append({
      sessionId: turn.sessionId,
      role: 'assistant',
      content: answer.answer,
      metadata: {
        reply_to: turn.userMessageId,
        request_id: turn.requestId,
        agent_response_id: answer.agentResponseId,
        sources: answer.sources,
        usage: answer.usage,
        latency_ms: answer.latencyMs,
      },
    });
  }

  /** Keeps what the agent produced before it failed or was cancelled, and why it stopped. */
  async fail(turn: Turn, partialAnswer: string, reason: ErrorCode, latencyMs: number): Promise<void> {
    await this.messages.append({
      sessionId: turn.sessionId,
      role: 'assistant',
      content: partialAnswer,
      metadata: {
        reply_to: turn.userMessageId,
        request_id: turn.requestId,
        incomplete: true,
        reason,
        latency_ms: latencyMs,
      },
    });
  }

  /**
   * The turns answered before this one, oldest first, each question followed by its answer: a turn
   * running at the same time in the session is not in it, nor does its question stand unanswered in
   * it. Whole turns, the newest that fit both bounds.
   */
  private async history(sessionId: string): Promise<HistoryMessage[]> {
    const { maxMessages, maxChars } = this.config.history;
    const newestFirst = await this.messages.latestAnsweredTurns(sessionId, maxMessages);
    const kept: HistoryMessage[] = [];
    let chars = 0;
    for (const { question, answer } of newestFirst) {
      const turn: HistoryMessage[] = [{ role: 'user', content: question }];
      if (answer) turn.push({ role: 'assistant', content: answer });
      chars += question.length + answer.length;
      if (chars > maxChars || kept.length + turn.length > maxMessages) break;
      kept.push(...turn.reverse());
    }
    return kept.reverse();
  }
}
