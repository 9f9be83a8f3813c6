/**
 * The benchmark's baselines, in a process of their own like the gateway: a minimal Node HTTP → gRPC
 * proxy (the floor of what Node can do for an uncached query, and at `/stream` for a stream over SSE or
 * WebSocket),
 * a Fastify route that returns a constant body (the floor for a cache hit) and the same route as a
 * bare NestJS controller on Fastify (the framework's own floor, which the gateway cannot go below).
 * In the load generator's process they shared its event loop and ran at half their speed, which
 * flattered every ratio against them.
 *
 * All get the gateway's work-around for Node 20's slow `AsyncResource#bind` (which Node's HTTP/2
 * client and Fastify's body parser call per request): a floor should not pay for a Node bug the
 * gateway does not pay for.
 *
 * Env: AGENT_ADDRESS, PROXY_PORT, CONSTANT_PORT, NEST_PORT, CONSTANT_BODY (the gateway's cached
 * answer, so that all send the same bytes). The benchmark waits for the constant route to answer, which
 * listens last.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import Fastify, { type FastifyReply } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { Controller, Header, HttpCode, Module, Post, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { useFastAsyncResourceBind } from '../apps/gateway/src/common/async-resource-bind';
import { connectAgent, queryAgent, type AgentStub } from './agent-stub';

interface ProxyInput {
  query: string;
  options?: Record<string, string>;
}

/** Sends one event of a proxied stream to its client, framed as the gateway frames it. */
type Emit = (event: 'start' | 'chunk' | 'done', data: Record<string, unknown>, seq: number) => void;

/**
 * The floor of a stream: the agent's chunks sent on as the gateway sends them; `end` once the call is
 * over. No auth, run, resume log, deadline, heartbeat or metrics. Returns the call's cancel, for when
 * the client leaves.
 */
function proxyStream(agent: AgentStub, input: ProxyInput, emit: Emit, end: () => void): () => void {
  const call = agent.StreamQuery(
    { agent_id: 'reference', query: input.query, options: input.options ?? {} },
    new grpc.Metadata(),
    {},
  );
  const run_id = randomUUID(); // the same size as the gateway's run ids, for the same bytes per event
  let seq = 0;
  emit('start', { agent_id: 'reference', run_id }, seq);
  call.on('data', ({ chunk }: { chunk?: string }) => {
    if (chunk) emit('chunk', { run_id, text: chunk }, ++seq);
  });
  // A call can fail after it ended (the agent closing the connection under a mass cancel): end once.
  let ended = false;
  const finish = (answered: boolean) => {
    if (ended) return;
    ended = true;
    if (answered) emit('done', { run_id }, ++seq);
    end();
  };
  call.on('end', () => finish(true));
  call.on('error', () => finish(false));
  return () => call.cancel();
}

/** A stream as SSE frames on an HTTP response. */
function proxySse(agent: AgentStub, input: ProxyInput, res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.flushHeaders();
  const cancel = proxyStream(
    agent,
    input,
    (event, data, seq) =>
      res.write(`id: ${String(data.run_id)}:${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
    () => res.end(),
  );
  res.on('close', cancel);
}

/** Streams as `{event, data}` WebSocket messages, one per query sent on the socket. */
function proxyWebSocket(agent: AgentStub, socket: WebSocket): void {
  socket.on('message', (raw: Buffer) => {
    const { data } = JSON.parse(raw.toString('utf8')) as { data: ProxyInput };
    const cancel = proxyStream(
      agent,
      data,
      (event, fields, seq) => socket.send(JSON.stringify({ event, data: { ...fields, seq } })),
      () => undefined,
    );
    socket.once('close', cancel);
  });
}

/** The constant route as a bare Nest controller: no guards, interceptors or pipes. */
async function nestConstant(body: string, port: number): Promise<INestApplication> {
  @Controller()
  class ConstantController {
    @Post('constant')
    @HttpCode(200)
    @Header('content-type', 'application/json')
    constant(): string {
      return body;
    }
  }
  @Module({ controllers: [ConstantController] })
  class ConstantModule {}
  const app = await NestFactory.create(ConstantModule, new FastifyAdapter(), { logger: false });
  await app.listen(port, '127.0.0.1');
  return app;
}

async function main(): Promise<void> {
  useFastAsyncResourceBind();
  const env = (name: string) => {
    const value = process.env[name];
    if (value === undefined) throw new Error(`${name} is not set`);
    return value;
  };
  const agent = connectAgent(env('AGENT_ADDRESS'));
  // Streams on a connection of their own (grpc-js would share one per address): when their clients all
  // leave, the mass cancel may make the agent close it, and that must not fail the queries meanwhile.
  const streamAgent = connectAgent(env('AGENT_ADDRESS'), { 'grpc.use_local_subchannel_pool': 1 });

  const proxy = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const input = JSON.parse(body) as ProxyInput;
      if (req.url === '/stream') return proxySse(streamAgent, input, res);
      queryAgent(agent, input.query, input.options ?? {}).then(
        (response) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(response)),
        () => res.writeHead(502).end(),
      );
    });
  });
  const proxyWs = new WebSocketServer({ server: proxy, path: '/stream', maxPayload: 64 * 1024 });
  proxyWs.on('connection', (socket) => proxyWebSocket(streamAgent, socket));
  await new Promise<void>((resolve) => proxy.listen(Number(env('PROXY_PORT')), '127.0.0.1', resolve));

  const constantBody = env('CONSTANT_BODY');
  const nest = await nestConstant(constantBody, Number(env('NEST_PORT')));
  const constant = Fastify();
  const sendConstant = (_req: unknown, reply: FastifyReply) => reply.type('application/json').send(constantBody);
  constant.get('/constant', sendConstant);
  constant.post('/constant', sendConstant);
  await constant.listen({ port: Number(env('CONSTANT_PORT')), host: '127.0.0.1' });

  process.once('SIGTERM', () => {
    proxyWs.close();
    proxy.close();
    agent.close();
    streamAgent.close();
    void Promise.all([constant.close(), nest.close()]).then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`baselines: ${String(error)}\n`);
  process.exit(1);
});
