import { loadDotEnv } from '../config/dotenv';
import { startTracing } from './tracing';

/** Imported first by main.ts: reads .env, then starts tracing (when configured) before http and grpc load. */
loadDotEnv();
export const tracing = startTracing(process.env);
