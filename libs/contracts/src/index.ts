export * from './agent.contract';
export * from './proto-path';
