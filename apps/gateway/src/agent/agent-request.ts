import type { HistoryMessage, QueryRequest } from '@app/contracts';
import type { QueryInput } from './agent.dto';

/** The gRPC request for a validated query: options as strings (the contract's map), history from the session. */
export function toAgentRequest(input: QueryInput, requestId: string, history: HistoryMessage[] = []): QueryRequest {
  return {
    agent_id: input.agent_id,
    session_id: input.session_id ?? '',
    query: input.query,
    options: Object.fromEntries(Object.entries(input.options ?? {}).map(([k, v]) => [k, String(v)])),
    history,
    request_id: requestId,
  };
}
