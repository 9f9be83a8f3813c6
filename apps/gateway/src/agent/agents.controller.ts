import { Controller, Get, Param } from '@nestjs/common';
import { AgentRegistry } from './agent-registry';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AgentInfoDto, AgentListDto } from './agent.dto';

@ApiTags('agents')
@Controller('api/v1/agents')
export class AgentsController {
  constructor(private readonly registry: AgentRegistry) {}

  @Get()
  @ApiOkResponse({ type: AgentListDto })
  list(): AgentListDto {
    return { agents: this.registry.list() };
  }

  @Get(':id')
  @ApiOkResponse({ type: AgentInfoDto })
  get(@Param('id') id: string): AgentInfoDto {
    return this.registry.get(id);
  }
}
