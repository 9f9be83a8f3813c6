import { Module } from '@nestjs/common';
import { SessionModule } from '../session/session.module';
import { AgentClient } from './agent-client';
import { AgentRegistry } from './agent-registry';
import { AgentService } from './agent.service';
import { AgentController } from './agent.controller';
import { AgentsController } from './agents.controller';

@Module({
  imports: [SessionModule],
  controllers: [AgentController, AgentsController],
  providers: [AgentClient, AgentRegistry, AgentService],
  exports: [AgentClient],
})
export class AgentModule {}
