import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { AppConfig } from '../apps/gateway/src/config/app-config';

/** No Docker engine runs here: these check what can be checked of deploy/ and docker-compose.yml without one. */
const ROOT = join(__dirname, '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const yamlOf = (path: string): any => parse(read(path));

const PROBE_PATHS = ['/health/live', '/health/ready', '/health/serving'];

describe('Kubernetes manifests', () => {
  const deployment = yamlOf('deploy/k8s/deployment.yaml');
  const config = yamlOf('deploy/k8s/configmap.yaml');
  const secret = yamlOf('deploy/k8s/secret.example.yaml');
  const pod = deployment.spec.template;
  const container = pod.spec.containers[0];

  it('all parse, and kustomization lists every manifest but the example secret', () => {
    const listed = yamlOf('deploy/k8s/kustomization.yaml').resources as string[];
    for (const file of listed)
      expect(parseAllDocuments(read(`deploy/k8s/${file}`)).every((d) => d.errors.length === 0)).toBe(true);
    expect(listed.sort()).toEqual(['configmap.yaml', 'deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'service.yaml']);
  });

  it('probes the Terminus routes on the port the app listens on', () => {
    const port = container.ports.find((p: { name: string }) => p.name === 'http').containerPort;
    expect(String(port)).toBe(config.data.PORT);
    expect(container.startupProbe.httpGet.path).toBe('/health/live');
    expect(container.livenessProbe.httpGet.path).toBe('/health/live');
    // Not /health/ready: its dependencies are every replica's, and would take them all out at once.
    expect(container.readinessProbe.httpGet.path).toBe('/health/serving');
    for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
      expect(PROBE_PATHS).toContain(probe.httpGet.path);
      expect(probe.httpGet.port).toBe('http');
    }
  });

  it('gives the pod time for preStop, the shutdown delay and the drain', () => {
    const preStopSeconds = Number(container.lifecycle.preStop.exec.command[1]);
    const needed =
      preStopSeconds + (Number(config.data.SHUTDOWN_DELAY_MS) + Number(config.data.DRAIN_TIMEOUT_MS)) / 1000;
    expect(pod.spec.terminationGracePeriodSeconds).toBeGreaterThan(needed);
  });

  it('runs as non-root with resource requests, config and secret references', () => {
    expect(pod.spec.securityContext.runAsNonRoot).toBe(true);
    expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.envFrom).toEqual([
      { configMapRef: { name: config.metadata.name } },
      { secretRef: { name: secret.metadata.name } },
    ]);
  });

  it('has a configuration the gateway accepts in production once the secrets are real, and refuses as it is', () => {
    const real = { JWT_SECRET: 'a'.repeat(40), STREAM_TICKET_SECRET: 'b'.repeat(40) };
    expect(() => AppConfig.fromEnv({ ...config.data, ...secret.stringData, ...real })).not.toThrow();
    // `kubectl apply -f deploy/k8s/` would install the example too: its placeholders must not sign tokens.
    expect(() => AppConfig.fromEnv({ ...config.data, ...secret.stringData })).toThrow(
      /JWT_SECRET: still the example's placeholder[\s\S]*STREAM_TICKET_SECRET: still the example's placeholder/,
    );
  });

  it('points the Service, autoscaler and disruption budget at the Deployment', () => {
    const labels = pod.metadata.labels;
    const service = yamlOf('deploy/k8s/service.yaml');
    expect(service.spec.selector).toEqual(labels);
    expect(service.spec.ports[0].targetPort).toBe('http');
    expect(yamlOf('deploy/k8s/hpa.yaml').spec.scaleTargetRef).toMatchObject({
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
    expect(yamlOf('deploy/k8s/pdb.yaml').spec.selector.matchLabels).toEqual(labels);
    expect(yamlOf('deploy/k8s/hpa.yaml').spec.minReplicas).toBeGreaterThan(
      yamlOf('deploy/k8s/pdb.yaml').spec.minAvailable,
    );
  });
});

describe('docker-compose.yml', () => {
  const compose = yamlOf('docker-compose.yml');

  it('runs the gateway, both agents, Postgres and Redis, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual([
      'gateway',
      'postgres',
      'python-agent',
      'redis',
      'reference-agent',
    ]);
    for (const [name, service] of Object.entries<{ healthcheck?: unknown }>(compose.services)) {
      expect({ name, healthcheck: Boolean(service.healthcheck) }).toEqual({ name, healthcheck: true });
    }
  });

  it('gives the gateway a configuration it accepts in production, pointing at the compose services', () => {
    const env = { ...compose.services.gateway.environment, JWT_SECRET: 'x'.repeat(40) };
    const config = AppConfig.fromEnv(env);
    expect(config.database.url).toContain('@postgres:5432');
    expect(config.agents.map((a) => a.targets[0])).toEqual(['reference-agent:50051', 'python-agent:50061']);
    expect(compose.services.gateway.healthcheck.test.join(' ')).toContain('/health/ready');
  });

  it("keeps the gateway's calls to the Python agent within its worker threads, and cancels them unpaced", () => {
    const python = AppConfig.fromEnv({ ...compose.services.gateway.environment, JWT_SECRET: 'x'.repeat(40) }).agents[1];
    expect(python.max_in_flight).toBeLessThanOrEqual(
      Number(compose.services['python-agent'].environment.AGENT_MAX_WORKERS),
    );
    expect(python.cancel_pacing.burst).toBeGreaterThan(python.max_in_flight);
  });

  it('builds from Dockerfiles that exist, and starts commands the build produces', () => {
    for (const service of Object.values<{ build?: { dockerfile: string }; command?: string[] }>(compose.services)) {
      if (service.build) expect(existsSync(join(ROOT, service.build.dockerfile))).toBe(true);
      if (service.command?.[0] === 'node') expect(existsSync(join(ROOT, service.command[1]))).toBe(true);
    }
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = read('deploy/Dockerfile');

  it('is multi-stage, installs production dependencies only, and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)!.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER node$/m);
    const cmd = /^CMD \["node", "([^"]+)"\]/m.exec(dockerfile)![1];
    expect(existsSync(join(ROOT, cmd))).toBe(true);
  });
});
