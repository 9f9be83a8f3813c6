import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AppConfig } from '../config/app-config';
import { AppException } from '../errors/app.exception';
import { isStorableText } from '../database/storable-text';
import { ErrorCode } from '../errors/error-code';
import type { AuthUser } from './auth-user';

const MAX_TOKEN_LENGTH = 8192;
/** Verified tokens remembered (each at most until its exp, and never longer than a minute). */
const VERIFIED_CACHE_SIZE = 10_000;
const VERIFIED_CACHE_MS = 60_000;

/** Verifies bearer tokens against the configured key, algorithm allowlist, issuer and audience. */
@Injectable()
export class JwtVerifier {
  private readonly key: KeyObject | JWTVerifyGetKey;
  /** Clients send the same token on every request: its signature is checked once, not per request. */
  private readonly verified = new Map<string, { user: AuthUser; until: number }>();

  constructor(private readonly config: AppConfig) {
    const source = config.auth.key;
    switch (source.kind) {
      case 'secret':
        this.key = createSecretKey(Buffer.from(source.secret, 'utf8'));
        break;
      case 'public-key':
        this.key = createPublicKey(source.pem);
        break;
      case 'jwks':
        this.key = createRemoteJWKSet(new URL(source.url), { timeoutDuration: 3000, cooldownDuration: 30_000 });
        break;
    }
  }

  async verify(token: string): Promise<AuthUser> {
    if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated('token too long');
    const known = this.verified.get(token);
    if (known && known.until > Date.now()) return known.user;
    const user = await this.verifySignature(token);
    this.remember(token, user);
    return user;
  }

  private remember(token: string, user: AuthUser): void {
    const exp = typeof user.claims.exp === 'number' ? user.claims.exp * 1000 : 0;
    const until = Math.min(exp, Date.now() + VERIFIED_CACHE_MS);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(token, { user, until });
  }

  private async verifySignature(token: string): Promise<AuthUser> {
    const { algorithms, issuer, audience, clockToleranceSeconds } = this.config.auth;
    try {
      const { payload } = await jwtVerify(token, this.key as KeyObject, {
        algorithms,
        issuer,
        audience,
        clockTolerance: clockToleranceSeconds,
        requiredClaims: ['exp', 'sub'],
      });
      if (typeof payload.sub !== 'string' || !isUserId(payload.sub)) {
        throw unauthenticated('token subject is missing or invalid');
      }
      return { id: payload.sub, claims: payload };
    } catch (error) {
      if (error instanceof AppException) throw error;
      if (error instanceof joseErrors.JWTExpired) throw unauthenticated('token expired');
      // A key set that cannot be fetched is not the caller's fault, but it still cannot be let in.
      if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
        throw unauthenticated('token could not be verified');
      }
      throw unauthenticated('invalid token');
    }
  }
}

/**
 * The subject owns sessions (`user_id`, up to 256 characters); it must be stored exactly as it is:
 * the driver would turn an unpaired surrogate into U+FFFD, and two subjects could then share sessions.
 */
function isUserId(sub: string): boolean {
  return sub.length > 0 && sub.length <= 256 && isStorableText(sub);
}

function unauthenticated(message: string): AppException {
  return new AppException(ErrorCode.UNAUTHENTICATED, message);
}
