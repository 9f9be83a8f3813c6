import { Body, Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
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
