import type { QueryRequest } from '@app/contracts';
import type { Turn } from '../session/conversation.service';
import type { QueryInput } from './agent.dto';

/**
 * The gRPC request for a validated query: options as strings (the contract's map); in a session, its
 * history and context from the turn.
 */
export function toAgentRequest(
  input: QueryInput,
  requestId: string,
  turn?: Pick<Turn, 'history' | 'contextJson'>,
): QueryRequest {
  return {
    agent_id: input.agent_id,
    session_id: input.session_id ?? '',
    query: input.query,
    options: Object.fromEntries(Object.entries(input.options ?? {}).map(([k, v]) => [k, String(v)])),
    history: turn?.history ?? [],
    request_id: requestId,
    context_json: turn?.contextJson ?? '',
  };
}
