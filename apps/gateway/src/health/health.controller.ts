import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
} from '@nestjs/terminus';
import { Public } from '../auth/public.decorator';
import { AgentClient } from '../agent/agent-client';

const AGENT_CHECK_TIMEOUT_MS = 1000;
const DATABASE_CHECK_TIMEOUT_MS = 1000;

@Public()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly agents: AgentClient,
  ) {}

  /** The process answers: never depends on the database, Redis or an agent. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Ready to serve: the database answers and every agent has a target serving grpc.health.v1. */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.database.pingCheck('database', { timeout: DATABASE_CHECK_TIMEOUT_MS }),
      ...this.agents.agentIds.map((id) => () => this.checkAgent(id)),
    ]);
  }

  @Get()
  @HealthCheck()
  details(): Promise<HealthCheckResult> {
    return this.ready();
  }

  private async checkAgent(agentId: string) {
    const check = this.indicators.check(`agent:${agentId}`);
    const targets = await this.agents.checkHealth(agentId, AGENT_CHECK_TIMEOUT_MS);
    return targets.some((t) => t.serving) ? check.up({ targets }) : check.down({ targets });
  }
}
