import { Body, Controller, Delete, Get, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { CurrentUser, type AuthUser } from '../auth/auth-user';
import { SessionService } from './session.service';
import { ApiConflictResponse, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ErrorBodyDto } from '../agent/agent.dto';
import {
  CreateSessionDto,
  MessagesPageDto,
  MessagesPageResponseDto,
  SessionDto,
  SessionsPageDto,
  SessionsPageResponseDto,
  UpdateSessionDto,
} from './session.dto';

const SessionId = new ParseUUIDPipe({ version: undefined });

@ApiTags('sessions')
@Controller('api/v1/session')
export class SessionController {
  constructor(private readonly sessions: SessionService) {}

  @Post()
  @ApiCreatedResponse({ type: SessionDto })
  @ApiConflictResponse({
    type: ErrorBodyDto,
    description: 'TOO_MANY_SESSIONS: the caller has MAX_ACTIVE_SESSIONS_PER_USER active sessions; close one first',
  })
  create(@CurrentUser() user: AuthUser, @Body() body: CreateSessionDto): Promise<SessionDto> {
    return this.sessions.create(user.id, body.agent_id, body.context);
  }

  /** The caller's sessions, newest first; `state` and `agent_id` narrow them. */
  @Get()
  @ApiOkResponse({ type: SessionsPageResponseDto })
  list(@CurrentUser() user: AuthUser, @Query() page: SessionsPageDto): Promise<SessionsPageResponseDto> {
    return this.sessions.list(user.id, page);
  }

  @Get(':id')
  @ApiOkResponse({ type: SessionDto })
  get(@CurrentUser() user: AuthUser, @Param('id', SessionId) id: string): Promise<SessionDto> {
    return this.sessions.get(user.id, id);
  }

  /** Replaces the session's context: the agent gets the new one from the next query on. */
  @Patch(':id')
  @ApiOkResponse({ type: SessionDto })
  @ApiConflictResponse({ type: ErrorBodyDto, description: 'SESSION_CLOSED: a closed session keeps its context' })
  update(
    @CurrentUser() user: AuthUser,
    @Param('id', SessionId) id: string,
    @Body() body: UpdateSessionDto,
  ): Promise<SessionDto> {
    return this.sessions.replaceContext(user.id, id, body.context);
  }

  /** Closes the session: it stays readable, and further queries into it get 409. */
  @Delete(':id')
  @ApiOkResponse({ type: SessionDto, description: 'The closed session' })
  close(@CurrentUser() user: AuthUser, @Param('id', SessionId) id: string): Promise<SessionDto> {
    return this.sessions.close(user.id, id);
  }

  @Get(':id/messages')
  @ApiOkResponse({ type: MessagesPageResponseDto })
  messages(
    @CurrentUser() user: AuthUser,
    @Param('id', SessionId) id: string,
    @Query() page: MessagesPageDto,
  ): Promise<MessagesPageResponseDto> {
    return this.sessions.messagesPage(user.id, id, page.limit, page.cursor);
  }
}
