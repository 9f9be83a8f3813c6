import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Logger,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedRequest } from '../auth/auth-user';
import { AcceptsStreamTicket, StreamTickets } from '../auth/stream-ticket';
import { CurrentUser, type AuthUser } from '../auth/auth-user';
import type { QueryInput } from '../agent/agent.dto';
import { onClientGone } from '../common/on-client-gone';
import { CancelSignal } from '../common/cancel-signal';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import type { Run } from './run';
import { traceparentOf } from '../observability/trace-context';
import { RunRegistry } from './run-registry';
import { SseWriter } from './sse-writer';
import { StreamService } from './stream.service';
import {
  ApiAcceptedResponse,
  ApiCreatedResponse,
  ApiHeader,
  ApiOkResponse,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import { StreamBodyDto, StreamQueryParamsDto, StreamTicketDto, lastEventIdSchema } from './stream.dto';

const SSE_DESCRIPTION =
  'Server-Sent Events: `start` {run_id}, `chunk` {seq, text}…, then exactly one of `done` {answer, sources, usage, latency_ms} or `error` {code, message}, then `data: [DONE]`. Every event has `id: <run_id>:<seq>`; reconnect with `Last-Event-ID` to get the rest. `reconnect` {run_id, last_seq} means this replica is stopping: resume elsewhere.';

/**
 * Fastify answers HEAD on every GET route by running the GET's handler. These start or hold a run: for a
 * HEAD, which reads no events, that would be an agent call nobody reads, holding a stream slot until it ends.
 */
function refuseHead(request: AuthenticatedRequest, reply: FastifyReply): void {
  if (request.method !== 'HEAD') return;
  void reply.header('allow', 'GET');
  throw new AppException(ErrorCode.METHOD_NOT_ALLOWED, 'HEAD is not allowed on event streams: use GET');
}

@ApiTags('streaming')
@ApiProduces('text/event-stream')
@Controller('api/v1/agent/stream')
export class StreamController {
  private readonly logger = new Logger(StreamController.name);

  constructor(
    private readonly streams: StreamService,
    private readonly registry: RunRegistry,
    private readonly tickets: StreamTickets,
    private readonly sse: SseWriter,
  ) {}

  /** A short-lived ticket that opens one stream: `GET /agent/stream?ticket=` (EventSource), or a WebSocket. */
  @Post('ticket')
  @HttpCode(201)
  @ApiCreatedResponse({ type: StreamTicketDto })
  ticket(@CurrentUser() user: AuthUser): Promise<StreamTicketDto> {
    return this.tickets.issue(user.id);
  }

  /** SSE for EventSource: the query in the URL; with Last-Event-ID, the rest of that run instead. */
  @Get()
  @AcceptsStreamTicket('open-or-resume')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume this run after this event' })
  @ApiOkResponse({ description: SSE_DESCRIPTION })
  async streamFromQuery(
    @Query() params: StreamQueryParamsDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: AuthenticatedRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    refuseHead(request, reply);
    const { ticket: _ticket, ...input } = params;
    await this.serve(input, lastEventId, request, reply);
  }

  /** SSE for fetch-based clients: the query as a JSON body. */
  @Post()
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume this run after this event' })
  @ApiOkResponse({ description: SSE_DESCRIPTION })
  async streamFromBody(
    @Body() body: StreamBodyDto,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Req() request: AuthenticatedRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.serve(body, lastEventId, request, reply);
  }

  /** The rest of a run after `after_seq` (default: from its start). */
  @Get(':runId')
  @AcceptsStreamTicket('resume')
  @ApiOkResponse({ description: SSE_DESCRIPTION })
  async resume(
    @Param('runId', new ParseUUIDPipe()) runId: string,
    @Query('after_seq') afterSeq: string | undefined,
    @Req() request: AuthenticatedRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    refuseHead(request, reply);
    // Digits only: Number() would also take '', ' 5', '1e3' and '0x10'.
    if (afterSeq !== undefined && !/^(-1|\d{1,9})$/.test(afterSeq)) {
      throw new AppException(ErrorCode.VALIDATION_FAILED, 'after_seq must be an integer of -1 or more');
    }
    await this.resumeRun(runId, afterSeq === undefined ? -1 : Number(afterSeq), request, reply);
  }

  /** Stops a run: the agent call is cancelled and readers get an `error` event (REQUEST_CANCELLED). */
  @Post(':runId/cancel')
  @HttpCode(202)
  @ApiAcceptedResponse({ description: 'The run is being cancelled; readers get an `error` event' })
  async cancel(
    @CurrentUser() user: AuthUser,
    @Param('runId', new ParseUUIDPipe()) runId: string,
  ): Promise<{ run_id: string; cancelled: true }> {
    await this.streams.cancel(runId, user.id);
    return { run_id: runId, cancelled: true };
  }

  private async serve(
    input: QueryInput,
    lastEventId: string | undefined,
    request: AuthenticatedRequest,
    reply: FastifyReply,
  ): Promise<void> {
    if (lastEventId) {
      const parsed = lastEventIdSchema.safeParse(lastEventId);
      if (!parsed.success) throw new AppException(ErrorCode.VALIDATION_FAILED, 'Last-Event-ID is not one of ours');
      return this.resumeRun(parsed.data.runId, parsed.data.afterSeq, request, reply);
    }
    const run = await this.streams.start(input, {
      userId: request.user!.id,
      requestId: String(request.id),
      traceparent: traceparentOf(request.headers.traceparent),
    });
    this.write(run, -1, request, reply);
  }

  private async resumeRun(runId: string, afterSeq: number, request: AuthenticatedRequest, reply: FastifyReply) {
    const gone = new CancelSignal();
    onClientGone(reply.raw, () => gone.cancel());
    const run = await this.streams.find(runId, request.user!.id, gone);
    this.write(run, afterSeq, request, reply);
  }

  /**
   * Starts the event stream and returns once the response is taken over (headers written, before
   * the first await): the handler is not held open for the stream's life, so Nest's request
   * pipeline, its promises and frames (about 4 KB a stream), is let go while the stream lasts.
   */
  private write(run: Run, afterSeq: number, request: AuthenticatedRequest, reply: FastifyReply): void {
    this.sse
      .write(run, afterSeq, reply, this.registry.attach(run))
      .catch((error: unknown) =>
        this.logger.error({ err: error, request_id: request.id, run_id: run.id }, 'event stream failed'),
      );
  }
}
