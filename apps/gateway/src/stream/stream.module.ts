import { Module } from '@nestjs/common';
import { AgentModule } from '../agent/agent.module';
import { HealthModule } from '../health/health.module';
import { SessionModule } from '../session/session.module';
import { RunMirror } from './run-mirror';
import { RunRegistry } from './run-registry';
import { SseWriter } from './sse-writer';
import { StreamController } from './stream.controller';
import { StreamGateway } from './stream.gateway';
import { SocketQuota } from './socket-quota';
import { StreamQuota } from './stream-quota';
import { StreamService } from './stream.service';

@Module({
  imports: [AgentModule, SessionModule, HealthModule],
  controllers: [StreamController],
  providers: [RunMirror, RunRegistry, SocketQuota, StreamQuota, StreamService, StreamGateway, SseWriter],
  exports: [RunRegistry],
})
export class StreamModule {}
