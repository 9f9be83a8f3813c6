/** TypeScript view of proto/agent.proto as loaded with PROTO_LOADER_OPTIONS (snake_case, longs as numbers). */

export type HistoryRole = 'user' | 'assistant' | 'system';

export interface HistoryMessage {
  role: HistoryRole;
  content: string;
}

export interface QueryRequest {
  session_id: string;
  agent_id: string;
  query: string;
  options: Record<string, string>;
  history: HistoryMessage[];
  request_id: string;
  /** The session's context as JSON text; empty outside a session. */
  context_json: string;
}

export interface Source {
  id: string;
  title: string;
  content: string;
  score: number;
  uri: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface QueryResponse {
  id: string;
  answer: string;
  sources: Source[];
  usage: Usage | null;
  latency_ms: number;
}

export interface QueryChunk {
  id: string;
  chunk: string;
  is_final: boolean;
  usage: Usage | null;
  sources: Source[];
}

export interface BatchQueryRequest {
  requests: QueryRequest[];
}

export interface BatchQueryResult {
  response?: QueryResponse | null;
  error?: { code: number; message: string } | null;
}

export interface BatchQueryResponse {
  results: BatchQueryResult[];
}

/** Metadata keys the gateway sends with every agent call. */
export const METADATA_REQUEST_ID = 'x-request-id';
