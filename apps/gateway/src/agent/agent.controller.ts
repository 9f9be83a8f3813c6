import { Body, Controller, HttpCode, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import { cacheUseOf } from '../cache/answer-cache';
import { AnswerCacheInterceptor } from '../cache/answer-cache.interceptor';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedRequest } from '../auth/auth-user';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AgentService } from './agent.service';
import { BatchRequestDto, BatchResponseDto, QueryRequestDto, QueryResponseDto } from './agent.dto';
import { callContextOf } from './call-context';

@ApiTags('agent')
@Controller('api/v1/agent')
export class AgentController {
  constructor(private readonly agents: AgentService) {}

  @Post('query')
  @HttpCode(200)
  @UseInterceptors(AnswerCacheInterceptor)
  @ApiOkResponse({ type: QueryResponseDto, description: 'The answer; `X-Cache: HIT|MISS` for cacheable agents' })
  query(
    @Body() body: QueryRequestDto,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<QueryResponseDto> {
    return this.agents.query(body, callContextOf(request, reply));
  }

  @Post('batch')
  @HttpCode(200)
  @ApiOkResponse({
    type: BatchResponseDto,
    description: 'One result or one error per item, in order; items are answered from the cache like queries',
  })
  async batch(
    @Body() body: BatchRequestDto,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BatchResponseDto> {
    const use = cacheUseOf(request.headers['cache-control']);
    return { responses: await this.agents.batch(body.requests, callContextOf(request, reply), use) };
  }
}
