import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtAuthGuard } from './jwt-auth.guard';
import { JwtVerifier } from './jwt-verifier';

@Module({
  providers: [JwtVerifier, { provide: APP_GUARD, useClass: JwtAuthGuard }],
  exports: [JwtVerifier],
})
export class AuthModule {}
