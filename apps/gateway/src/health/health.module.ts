import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { AgentModule } from '../agent/agent.module';
import { DrainState } from './drain-state';
import { HealthController } from './health.controller';

@Module({
  imports: [TerminusModule.forRoot({ logger: false }), AgentModule],
  controllers: [HealthController],
  providers: [DrainState],
  exports: [DrainState],
})
export class HealthModule {}
