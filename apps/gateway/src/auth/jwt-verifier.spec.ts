import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { AppConfig } from '../config/app-config';
import { ErrorCode } from '../errors/error-code';
import { ecKeyPair, jwksOf, rsaKeyPair, secretKey, sign, unsignedToken } from '../../../../test/support/tokens';
import { JwtVerifier } from './jwt-verifier';

const SECRET = 'a-secret-that-is-long-enough-for-hs256-tests';

function verifierFor(env: Record<string, string>): JwtVerifier {
  return new JwtVerifier(AppConfig.fromEnv({ NODE_ENV: 'test', ...env }));
}

async function expectRejected(verifier: JwtVerifier, token: string, message?: RegExp): Promise<void> {
  const error = await verifier.verify(token).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toMatchObject({ code: ErrorCode.UNAUTHENTICATED, status: 401 });
  if (message) expect((error as Error).message).toMatch(message);
}

describe('JwtVerifier', () => {
  describe('with a shared secret (HS256)', () => {
    const verifier = verifierFor({ JWT_SECRET: SECRET });

    it('accepts a token signed with the secret and returns its subject', async () => {
      await expect(verifier.verify(await sign('HS256', secretKey(SECRET), { sub: 'alice' }))).resolves.toMatchObject({
        id: 'alice',
      });
    });

    it('rejects a token signed with another secret', async () => {
      await expectRejected(verifier, await sign('HS256', secretKey('another-secret-another-secret-xx')));
    });

    it('rejects an unsigned token (alg: none)', async () => {
      await expectRejected(verifier, unsignedToken());
    });

    it('rejects a token without exp', async () => {
      await expectRejected(verifier, await sign('HS256', secretKey(SECRET), { exp: null }));
    });

    it('rejects an expired token and says so', async () => {
      const expired = Math.floor(Date.now() / 1000) - 3600;
      await expectRejected(verifier, await sign('HS256', secretKey(SECRET), { exp: expired }), /expired/);
    });

    it('rejects a token without a subject', async () => {
      await expectRejected(verifier, await sign('HS256', secretKey(SECRET), { sub: '' }));
    });

    it('rejects a subject that could not be stored as it is (the owner of sessions)', async () => {
      for (const sub of ['x'.repeat(257), 'alice\u0000', 'alice\ud800', 'alice\udfff']) {
        await expectRejected(verifier, await sign('HS256', secretKey(SECRET), { sub }), /subject/);
      }
      await expect(verifier.verify(await sign('HS256', secretKey(SECRET), { sub: 'élise 😀' }))).resolves.toMatchObject(
        {
          id: 'élise 😀',
        },
      );
    });

    it('rejects an RS256 token even when its signature would check out', async () => {
      const { privateKey } = rsaKeyPair();
      await expectRejected(verifier, await sign('RS256', privateKey));
    });

    it('rejects garbage', async () => {
      await expectRejected(verifier, 'not.a.token');
    });
  });

  describe('with issuer and audience configured', () => {
    const verifier = verifierFor({ JWT_SECRET: SECRET, JWT_ISSUER: 'https://idp.test', JWT_AUDIENCE: 'gateway' });

    it('accepts matching iss and aud', async () => {
      const token = await sign('HS256', secretKey(SECRET), { iss: 'https://idp.test', aud: 'gateway' });
      await expect(verifier.verify(token)).resolves.toMatchObject({ id: 'alice' });
    });

    it('rejects another issuer or audience', async () => {
      await expectRejected(
        verifier,
        await sign('HS256', secretKey(SECRET), { iss: 'https://evil.test', aud: 'gateway' }),
      );
      await expectRejected(verifier, await sign('HS256', secretKey(SECRET), { iss: 'https://idp.test', aud: 'other' }));
    });
  });

  describe('with an RSA public key (RS256)', () => {
    const keys = rsaKeyPair();
    const verifier = verifierFor({ JWT_PUBLIC_KEY: keys.publicPem });

    it('accepts a token signed with the private key', async () => {
      await expect(verifier.verify(await sign('RS256', keys.privateKey))).resolves.toMatchObject({ id: 'alice' });
    });

    it('rejects a token signed by another key pair', async () => {
      await expectRejected(verifier, await sign('RS256', rsaKeyPair().privateKey));
    });

    it('rejects an HS256 token whose HMAC key is the public key (algorithm confusion)', async () => {
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'mallory', exp: Math.floor(Date.now() / 1000) + 60 })}`;
      const mac = createHmac('sha256', keys.publicPem).update(input).digest('base64url');
      await expectRejected(verifier, `${input}.${mac}`);
    });

    it('accepts a PEM given with \\n escapes, as environment files often carry it', async () => {
      const escaped = verifierFor({ JWT_PUBLIC_KEY: keys.publicPem.replace(/\n/g, '\\n') });
      await expect(escaped.verify(await sign('RS256', keys.privateKey))).resolves.toMatchObject({ id: 'alice' });
    });
  });

  describe('with an EC public key (ES256)', () => {
    it('accepts ES256 and rejects RS256', async () => {
      const keys = ecKeyPair();
      const verifier = verifierFor({ JWT_PUBLIC_KEY: keys.publicPem });
      await expect(verifier.verify(await sign('ES256', keys.privateKey))).resolves.toMatchObject({ id: 'alice' });
      await expectRejected(verifier, await sign('RS256', rsaKeyPair().privateKey));
    });
  });

  describe('with a JWKS URL', () => {
    const keys = rsaKeyPair();
    let server: Server;
    let url: string;

    beforeAll(async () => {
      const body = JSON.stringify(await jwksOf(keys.publicKey, 'key-1'));
      server = createServer((_req, res) => res.setHeader('content-type', 'application/json').end(body));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
    });
    afterAll(() => new Promise((resolve) => server.close(resolve)));

    it('accepts a token whose kid is in the key set, rejects one signed by an unknown key', async () => {
      const verifier = verifierFor({ JWKS_URL: url });
      await expect(verifier.verify(await sign('RS256', keys.privateKey, {}, { kid: 'key-1' }))).resolves.toMatchObject({
        id: 'alice',
      });
      await expectRejected(verifier, await sign('RS256', rsaKeyPair().privateKey, {}, { kid: 'key-1' }));
    });

    it('rejects tokens when the key set cannot be fetched', async () => {
      const verifier = verifierFor({ JWKS_URL: 'http://127.0.0.1:1/jwks.json' });
      await expectRejected(
        verifier,
        await sign('RS256', keys.privateKey, {}, { kid: 'key-1' }),
        /could not be verified/,
      );
    });
  });
});
