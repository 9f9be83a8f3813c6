import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtVerifier } from './jwt-verifier';
import { StreamTickets } from './stream-ticket';

/** Global: every feature checks callers the same way. */
@Global()
@Module({
  providers: [JwtVerifier, StreamTickets, { provide: APP_GUARD, useClass: JwtAuthGuard }],
  exports: [JwtVerifier, StreamTickets],
})
export class AuthModule {}
