import { Body, Controller, HttpCode, Post, Req, Res, UseInterceptors } from '@nestjs/common';
import { AnswerCacheInterceptor } from '../cache/answer-cache.interceptor';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedRequest } from '../auth/auth-user';
import { AgentService } from './agent.service';
import { BatchRequestDto, QueryRequestDto, type BatchResponseDto, type QueryResponseDto } from './agent.dto';
import { callContextOf } from './call-context';

@Controller('api/v1/agent')
export class AgentController {
  constructor(private readonly agents: AgentService) {}

  @Post('query')
  @HttpCode(200)
  @UseInterceptors(AnswerCacheInterceptor)
  query(
    @Body() body: QueryRequestDto,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<QueryResponseDto> {
    return this.agents.query(body, callContextOf(request, reply));
  }

  @Post('batch')
  @HttpCode(200)
  async batch(
    @Body() body: BatchRequestDto,
    @Req() request: AuthenticatedRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<BatchResponseDto> {
    return { responses: await this.agents.batch(body.requests, callContextOf(request, reply)) };
  }
}
