import type { HistoryMessage, Source, Usage } from '@app/contracts';
import { Bm25Index, tokenize } from './bm25';

export interface Answer {
  answer: string;
  sources: Source[];
  usage: Usage;
}

const TOP_PASSAGES = 3;
const NOTHING_FOUND = 'I could not find anything about that in my documents.';

/** Word-ish units as a model tokenizer would roughly count them. */
export function countTokens(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

/** Answers from the best passages; the earlier turns of a conversation widen the search. */
export class RetrievalAgent {
  constructor(private readonly index: Bm25Index) {}

  answer(query: string, history: HistoryMessage[] = []): Answer {
    const previousUserTurn = [...history].reverse().find((m) => m.role === 'user')?.content ?? '';
    let passages = this.index.search(query, TOP_PASSAGES);
    if (passages.length === 0 && previousUserTurn && tokenize(query).length < 3) {
      passages = this.index.search(`${previousUserTurn} ${query}`, TOP_PASSAGES);
    }
    const answer = passages.length === 0 ? NOTHING_FOUND : passages.map((p) => p.content).join('\n\n');
    const promptText = [query, ...history.map((m) => m.content), ...passages.map((p) => p.content)].join(' ');
    const prompt_tokens = countTokens(promptText);
    const completion_tokens = countTokens(answer);
    return {
      answer,
      sources: passages.map(({ id, title, content, score, uri }) => ({ id, title, content, score, uri })),
      usage: { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens },
    };
  }
}

/** Splits an answer into the pieces a stream sends, keeping whitespace so they join back exactly. */
export function splitIntoTokens(answer: string): string[] {
  return answer.match(/\S+\s*/g) ?? [];
}
