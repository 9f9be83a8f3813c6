import { Controller, Get, Res, ServiceUnavailableException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
  type HealthCheckResult,
  type HealthIndicatorFunction,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { NoRateLimit } from '../rate-limit/rate-limit.guard';
import { AgentClient } from '../agent/agent-client';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { DrainState } from './drain-state';

const AGENT_CHECK_TIMEOUT_MS = 1000;
const DATABASE_CHECK_TIMEOUT_MS = 1000;
const REDIS_CHECK_TIMEOUT_MS = 500;

/**
 * Each check's status with its counts and flags only: its texts and lists (an agent's target addresses,
 * "connect ECONNREFUSED 10.0.3.7:5432") tell anyone who calls a public probe how the inside is laid out.
 */
function withoutDetails<T extends Partial<HealthIndicatorResult>>(checks: T | undefined): T | undefined {
  if (!checks) return checks;
  const kept = Object.entries(checks).map(([name, fields]) => [
    name,
    Object.fromEntries(
      Object.entries(fields ?? {}).filter(
        ([key, value]) => key === 'status' || ['number', 'boolean'].includes(typeof value),
      ),
    ),
  ]);
  return Object.fromEntries(kept) as T;
}

/** Probes are neither authenticated nor rate limited: an orchestrator must always get an answer. */
@ApiTags('health')
@Public()
@NoRateLimit()
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly database: TypeOrmHealthIndicator,
    private readonly agents: AgentClient,
    private readonly drain: DrainState,
    private readonly redis: RedisService,
    private readonly config: AppConfig,
  ) {}

  /** The process answers: never depends on the database, Redis or an agent. */
  @Get('live')
  @HealthCheck()
  live(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    return this.run(reply, []);
  }

  /** Ready to serve: not draining, the database answers, every agent has a target serving grpc.health.v1. */
  @Get('ready')
  @HealthCheck()
  ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    return this.run(reply, this.readinessChecks());
  }

  /**
   * This replica takes traffic: only that it is not draining. For load balancers and Kubernetes'
   * readiness: the dependencies /ready checks are shared by every replica, and taking them all out
   * at once would turn a degraded service (an agent down, Redis away) into none at all.
   */
  @Get('serving')
  @HealthCheck()
  serving(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    return this.run(reply, [() => this.checkNotDraining()]);
  }

  /** The same checks as readiness, for people: every check with its details. */
  @Get()
  @HealthCheck()
  details(@Res({ passthrough: true }) reply: FastifyReply): Promise<HealthCheckResult> {
    return this.run(reply, this.readinessChecks());
  }

  private readinessChecks(): HealthIndicatorFunction[] {
    return [
      () => this.checkNotDraining(),
      () => this.database.pingCheck('database', { timeout: DATABASE_CHECK_TIMEOUT_MS }),
      ...(this.redis.enabled ? [() => this.checkRedis()] : []),
      ...this.agents.agentIds.map((id) => () => this.checkAgent(id)),
    ];
  }

  /**
   * Terminus reports failure by throwing; orchestrators want a 503 with the checks as the body, which
   * names addresses and error texts only with HEALTH_DETAILS.
   */
  private async run(reply: FastifyReply, checks: HealthIndicatorFunction[]): Promise<HealthCheckResult> {
    let result: HealthCheckResult;
    try {
      result = await this.health.check(checks);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      void reply.status(503);
      result = error.getResponse() as HealthCheckResult;
    }
    if (this.config.http.healthDetails) return result;
    return {
      status: result.status,
      info: withoutDetails(result.info),
      error: withoutDetails(result.error),
      details: withoutDetails(result.details)!,
    };
  }

  /** Redis down is worth knowing, though the gateway keeps serving without it (see README). */
  private async checkRedis() {
    const check = this.indicators.check('redis');
    try {
      await this.redis.ping(REDIS_CHECK_TIMEOUT_MS);
      return check.up();
    } catch (error) {
      return check.down({ message: (error as Error).message });
    }
  }

  private checkNotDraining() {
    const check = this.indicators.check('shutdown');
    return this.drain.draining ? check.down({ draining: true }) : check.up({ draining: false });
  }

  private async checkAgent(agentId: string) {
    const check = this.indicators.check(`agent:${agentId}`);
    const targets = await this.agents.checkHealth(agentId, AGENT_CHECK_TIMEOUT_MS);
    const fields = { serving: targets.filter((t) => t.serving).length, total: targets.length, targets };
    return fields.serving > 0 ? check.up(fields) : check.down(fields);
  }
}
