import { Controller, Get, Param } from '@nestjs/common';
import { AgentRegistry } from './agent-registry';
import type { AgentInfoDto } from './agent.dto';

@Controller('api/v1/agents')
export class AgentsController {
  constructor(private readonly registry: AgentRegistry) {}

  @Get()
  list(): { agents: AgentInfoDto[] } {
    return { agents: this.registry.list() };
  }

  @Get(':id')
  get(@Param('id') id: string): AgentInfoDto {
    return this.registry.get(id);
  }
}
