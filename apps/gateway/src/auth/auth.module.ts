import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CallerIdentity } from './caller-identity';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtVerifier } from './jwt-verifier';
import { SpentTickets } from './spent-tickets';
import { StreamTickets } from './stream-ticket';

/** Global: every feature checks callers the same way. */
@Global()
@Module({
  providers: [JwtVerifier, SpentTickets, StreamTickets, CallerIdentity, { provide: APP_GUARD, useClass: JwtAuthGuard }],
  exports: [JwtVerifier, StreamTickets, CallerIdentity],
})
export class AuthModule {}
