import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AgentRecord } from '../agent/agent-record.entity';
import { AgentCatalog } from './agent-catalog';
import { ConversationService } from './conversation.service';
import { MessageEntity } from './message.entity';
import { MessageRepository } from './message.repository';
import { SessionController } from './session.controller';
import { SessionRetention } from './session-retention';
import { SessionEntity } from './session.entity';
import { SessionRepository } from './session.repository';
import { SessionService } from './session.service';

@Module({
  imports: [TypeOrmModule.forFeature([AgentRecord, SessionEntity, MessageEntity])],
  controllers: [SessionController],
  providers: [
    AgentCatalog,
    SessionRepository,
    MessageRepository,
    SessionService,
    ConversationService,
    SessionRetention,
  ],
  exports: [ConversationService],
})
export class SessionModule {}
