import { Controller, Get, SetMetadata, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { RouteFlag } from './route-flag';

const OPEN = 'test:open';
const Open = () => SetMetadata(OPEN, true);

class BaseController {
  @Get('status')
  status(): string {
    return 'ok';
  }
}

@Controller('a')
class ClosedController extends BaseController {
  @Get('door')
  @Open()
  door(): string {
    return 'open';
  }
}

@Controller('b')
@Open()
class OpenController extends BaseController {}

const route = (controller: object, handler: object) =>
  ({ getClass: () => controller, getHandler: () => handler }) as unknown as ExecutionContext;

describe('RouteFlag', () => {
  const flag = new RouteFlag(new Reflector(), OPEN);

  it('reads the flag from the method, else from its controller, and keeps answering the same', () => {
    const door = ClosedController.prototype.door;
    expect(flag.isSetOn(route(ClosedController, door))).toBe(true);
    expect(flag.isSetOn(route(ClosedController, door))).toBe(true);
    expect(flag.isSetOn(route(OpenController, BaseController.prototype.status))).toBe(true);
  });

  it('tells one inherited method apart under two controllers', () => {
    const status = BaseController.prototype.status;
    expect(flag.isSetOn(route(OpenController, status))).toBe(true);
    expect(flag.isSetOn(route(ClosedController, status))).toBe(false);
  });
});
