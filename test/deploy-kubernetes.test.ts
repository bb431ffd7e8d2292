import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { declared, type LoopDefinition, type QueueDefinition } from '../src/runtime/domain.ts';
import { domains, loadNovaConfig as loadConfig } from '../src/domains.ts';
import { QueueClient } from '../src/queue/queue.ts';
import { backends, type TestDb } from './helpers/db.ts';
import { kustomize, kustomizations, type K8sObject } from './helpers/kustomize.ts';

/**
 * deploy/kubernetes renders (base, dev, production), every object validates against the
 * Kubernetes and KEDA schemas (kubernetes-models; CloudNativePG's CRDs by the fields we use), and
 * the manifests follow the runtime: one Deployment per role of src/domains.ts, a ScaledObject on
 * each queue role's own queues, PDBs for singletons' standbys.
 */
const root = fileURLToPath(new URL('../', import.meta.url));
const dirs = kustomizations(root);
const rendered = Object.fromEntries(Object.entries(dirs).map(([name, dir]) => [name, kustomize(dir)])) as Record<keyof typeof dirs, K8sObject[]>;
const config = loadConfig({});

const roles = domains.flatMap((d) => d.roles);
const queuesOf = (role: string) =>
  domains.flatMap((d) => declared<QueueDefinition>(d.queues, config)).filter((q) => q.role === role).map((q) => q.name);
const loopsOf = (role: string) => domains.flatMap((d) => declared<LoopDefinition>(d.loops, config)).filter((l) => l.role === role);
/** Roles that only run singleton loops: one replica acts, the others stand by. */
const singletonRoles = roles.filter((r) => !queuesOf(r).length && loopsOf(r).length && loopsOf(r).every((l) => l.singleton));
const httpRoles = ['api', 'fanout'];

const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);
type Container = { name: string; image: string; args?: string[]; ports?: { name: string; containerPort: number }[];
  env?: { name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  readinessProbe?: { httpGet?: { path: string; port: string } }; livenessProbe?: { httpGet?: { path: string; port: string } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> } };
const podSpec = (o: K8sObject) => (o.spec as { template: { spec: { containers: Container[]; terminationGracePeriodSeconds?: number } } }).template.spec;
const novaDeployments = (objects: K8sObject[]) => objects.filter((o) => o.kind === 'Deployment' && o.metadata.labels?.['app.kubernetes.io/name'] === 'nova');

// CloudNativePG ships no npm models: its CRDs are checked on the fields these manifests use.
const cnpgSchemas: Record<string, z.ZodType> = {
  Cluster: z.object({
    metadata: z.object({ name: z.string() }),
    spec: z.object({
      instances: z.number().int().min(1),
      imageName: z.string().optional(),
      primaryUpdateStrategy: z.enum(['unsupervised', 'supervised']).optional(),
      bootstrap: z.object({ initdb: z.object({ database: z.string(), owner: z.string() }).strict() }).strict().optional(),
      postgresql: z.object({ parameters: z.record(z.string(), z.string()) }).strict().optional(),
      storage: z.object({ size: z.string() }).strict(),
      walStorage: z.object({ size: z.string() }).strict().optional(),
      resources: z.object({ requests: z.record(z.string(), z.string()), limits: z.record(z.string(), z.string()) }).partial().optional(),
      affinity: z.object({ podAntiAffinityType: z.enum(['preferred', 'required']) }).partial().optional(),
      backup: z.object({
        retentionPolicy: z.string().regex(/^[1-9][0-9]*[dwm]$/),
        barmanObjectStore: z.object({
          destinationPath: z.string(),
          s3Credentials: z.object({ accessKeyId: z.object({ name: z.string(), key: z.string() }), secretAccessKey: z.object({ name: z.string(), key: z.string() }) }),
          wal: z.object({ compression: z.enum(['gzip', 'bzip2', 'snappy', 'lz4', 'xz', 'zstd']) }).optional(),
        }).strict(),
      }).strict().optional(),
    }).strict(),
  }),
  ScheduledBackup: z.object({
    spec: z.object({
      schedule: z.string().refine((s) => s.split(' ').length === 6, 'six cron fields, seconds first'),
      backupOwnerReference: z.enum(['none', 'self', 'cluster']).optional(),
      cluster: z.object({ name: z.string() }).strict(),
    }).strict(),
  }),
};

async function validate(o: K8sObject): Promise<void> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : [undefined, o.apiVersion];
  if (group === 'postgresql.cnpg.io') {
    const schema = cnpgSchemas[o.kind];
    if (!schema) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
    schema.parse(o);
    return;
  }
  const module = group === 'keda.sh' ? `@kubernetes-models/keda/keda.sh/${version}/${o.kind}`
    : group ? `kubernetes-models/${group}/${version}/${o.kind}` : `kubernetes-models/v1/${o.kind}`;
  const exported = (await import(module)) as Record<string, new (data: unknown) => { validate(): void }>;
  const Model = exported[o.kind];
  if (!Model) throw new Error(`${module} exports no ${o.kind}`);
  new Model(o).validate();
}

describe('deploy/kubernetes', () => {
  it('renders base, dev and production, the same as kubectl kustomize where kubectl is installed', () => {
    expect(rendered.base.length).toBeGreaterThan(20);
    expect(rendered.production.length).toBeGreaterThan(rendered.base.length);
    // The renderer above covers the kustomize features in use; kubectl proves it renders as kustomize does.
    if (spawnSync('kubectl', ['version', '--client'], { stdio: 'ignore' }).status !== 0) return;
    for (const [name, dir] of Object.entries(dirs)) {
      const theirs = parseAllDocuments(spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' }).stdout).map((d) => d.toJS() as K8sObject);
      expect(theirs.length, name).toBe(rendered[name as keyof typeof dirs].length);
      for (const o of theirs) {
        expect(isDeepStrictEqual(find(rendered[name as keyof typeof dirs], o.kind, o.metadata.name), o), `${name} ${o.kind}/${o.metadata.name}`).toBe(true);
      }
    }
  });

  it.each(Object.keys(dirs))('every object of %s validates against its schema', async (name) => {
    const objects = rendered[name as keyof typeof dirs];
    const failures: string[] = [];
    for (const o of objects) {
      try {
        await validate(o);
      } catch (err) {
        failures.push(`${o.kind}/${o.metadata.name}: ${(err as Error).message}`);
      }
    }
    expect(failures).toEqual([]);
    expect(objects.filter((o) => o.kind !== 'Namespace').every((o) => o.metadata.namespace === 'nova')).toBe(true);
  });

  it('has one Deployment per role of src/domains.ts, each starting exactly that role', () => {
    for (const objects of Object.values(rendered)) {
      const deployments = novaDeployments(objects);
      expect(deployments.map((d) => d.metadata.name).sort()).toEqual(roles.map((r) => `nova-${r}`).sort());
      for (const role of roles) expect(podSpec(find(objects, 'Deployment', `nova-${role}`)!).containers[0]!.args).toEqual(['start', role]);
    }
  });

  it('gives every role probes on the health port, requests and limits, a grace above SHUTDOWN_TIMEOUT_MS, and the database URL', () => {
    const configMap = find(rendered.production, 'ConfigMap', 'nova-config') as K8sObject & { data: Record<string, string> };
    const healthPort = Number(configMap.data.WORKER_HEALTH_PORT);
    const shutdownMs = Number(configMap.data.SHUTDOWN_TIMEOUT_MS);
    for (const d of novaDeployments(rendered.production)) {
      const spec = podSpec(d);
      const [c] = spec.containers;
      expect(c!.ports?.find((p) => p.name === 'health')?.containerPort, d.metadata.name).toBe(healthPort);
      for (const probe of [c!.readinessProbe, c!.livenessProbe]) expect(probe?.httpGet).toEqual({ path: '/health', port: 'health' });
      for (const kind of ['requests', 'limits'] as const) expect(Object.keys(c!.resources?.[kind] ?? {}).sort()).toEqual(['cpu', 'memory']);
      expect(spec.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(shutdownMs);
      expect(c!.env?.find((e) => e.name === 'DATABASE_URL')?.valueFrom?.secretKeyRef).toEqual({ name: 'nova-db-app', key: 'uri' });
      expect(c!.image).toBe('registry.example.com/acme/nova:latest');
    }
    expect(podSpec(find(rendered.dev, 'Deployment', 'nova-threads')!).containers[0]!.image).toBe('nova:local');
  });

  it('runs migrations as a Job, and exposes api and fanout through Services', () => {
    const job = find(rendered.base, 'Job', 'nova-migrate') as K8sObject & { spec: { template: { spec: { containers: Container[] } } } };
    expect(job.spec.template.spec.containers[0]!.args).toEqual(['migrate']);
    for (const role of httpRoles) {
      const service = find(rendered.base, 'Service', `nova-${role}`) as K8sObject & { spec: { selector: Record<string, string>; ports: { targetPort: string }[] } };
      expect(service.spec.selector['app.kubernetes.io/component']).toBe(role);
      expect(podSpec(find(rendered.base, 'Deployment', `nova-${role}`)!).containers[0]!.ports?.map((p) => p.name)).toContain(service.spec.ports[0]!.targetPort);
    }
  });

  it('keeps a standby for every singleton role, protected by a PodDisruptionBudget', () => {
    expect(singletonRoles).toContain('completion');
    for (const role of singletonRoles) {
      const d = find(rendered.production, 'Deployment', `nova-${role}`) as K8sObject & { spec: { replicas: number } };
      expect(d.spec.replicas).toBeGreaterThanOrEqual(2);
      const pdb = find(rendered.production, 'PodDisruptionBudget', `nova-${role}`) as K8sObject & { spec: { minAvailable: number; selector: { matchLabels: Record<string, string> } } };
      expect(pdb.spec.minAvailable).toBe(1);
      expect(pdb.spec.selector.matchLabels['app.kubernetes.io/component']).toBe(role);
      expect(find(rendered.production, 'ScaledObject', `nova-${role}`)).toBeUndefined();
    }
  });

  it('autoscales every queue role with KEDA on exactly the queues that role consumes', () => {
    const queueRoles = roles.filter((r) => queuesOf(r).length);
    expect(queueRoles.length).toBeGreaterThan(0);
    for (const objects of [rendered.dev, rendered.production]) {
      const scaled = objects.filter((o) => o.kind === 'ScaledObject') as (K8sObject & { spec: ScaledSpec })[];
      expect(scaled.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual([...queueRoles, ...httpRoles].map((r) => `nova-${r}`).sort());
      for (const role of queueRoles) {
        const { spec } = scaled.find((s) => s.spec.scaleTargetRef.name === `nova-${role}`)!;
        expect(spec.minReplicaCount).toBeGreaterThanOrEqual(1);
        expect(spec.maxReplicaCount).toBeGreaterThanOrEqual(spec.minReplicaCount);
        const [trigger] = spec.triggers;
        expect(trigger!.type).toBe('postgresql');
        expect(trigger!.authenticationRef?.name).toBe('nova-postgres');
        // The depth query stops counting at its limit: it must stay above what the largest scale needs.
        const limit = Number(/limit (\d+)/.exec(trigger!.metadata.query!)?.[1]);
        expect(limit).toBeGreaterThanOrEqual(spec.maxReplicaCount * Number(trigger!.metadata.targetQueryValue));
        expect([...new Set([...trigger!.metadata.query!.matchAll(/queue = '([^']+)'/g)].map((m) => m[1]))].sort()).toEqual(queuesOf(role).sort());
      }
      expect(find(objects, 'TriggerAuthentication', 'nova-postgres')).toMatchObject({ spec: { secretTargetRef: [{ parameter: 'connection', name: 'nova-db-app', key: 'uri' }] } });
    }
  });

  it('production: a CloudNativePG cluster with a replica and backups, whose application secret the pods read', () => {
    const clusters = rendered.production.filter((o) => o.kind === 'Cluster') as (K8sObject & { spec: { instances: number; backup?: unknown } })[];
    expect(clusters).toHaveLength(1);
    expect(clusters[0]!.spec.instances).toBeGreaterThanOrEqual(2);
    expect(clusters[0]!.spec.backup).toBeDefined();
    // CloudNativePG names the application user's secret <cluster>-app, with the key `uri`.
    expect(`${clusters[0]!.metadata.name}-app`).toBe('nova-db-app');
    expect(find(rendered.production, 'ScheduledBackup', 'nova-db-daily')).toMatchObject({ spec: { cluster: { name: clusters[0]!.metadata.name } } });
    expect((find(rendered.production, 'ConfigMap', 'nova-config') as K8sObject & { data: Record<string, string> }).data.REDIS_URL).toMatch(/^redis:\/\//);
    expect(find(rendered.dev, 'Secret', 'nova-db-app')).toMatchObject({ stringData: { uri: expect.stringMatching(/^postgresql:\/\//) } });
  });

  it('denies ingress by default and opens the HTTP port of api and fanout and the database to Nova and KEDA', () => {
    for (const objects of Object.values(rendered)) {
      expect(find(objects, 'NetworkPolicy', 'nova-default-deny-ingress')).toMatchObject({ spec: { podSelector: {}, policyTypes: ['Ingress'] } });
      const http = find(objects, 'NetworkPolicy', 'nova-http') as K8sObject & { spec: { podSelector: { matchExpressions: { values: string[] }[] }; ingress: { ports: { port: number }[] }[] } };
      expect(http.spec.podSelector.matchExpressions[0]!.values).toEqual(httpRoles);
      expect(http.spec.ingress[0]!.ports[0]!.port).toBe(4000);
    }
    for (const objects of [rendered.dev, rendered.production]) {
      const db = JSON.stringify(find(objects, 'NetworkPolicy', 'nova-db'));
      expect(db).toContain('"app.kubernetes.io/name":"nova"');
      expect(db).toContain('"kubernetes.io/metadata.name":"keda"');
    }
  });
});

type ScaledSpec = {
  scaleTargetRef: { name: string };
  minReplicaCount: number;
  maxReplicaCount: number;
  triggers: { type: string; authenticationRef?: { name: string }; metadata: { query?: string; targetQueryValue?: string } }[];
};

describe.each(backends)('KEDA queue-depth queries on $name', (backend) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await backend.create();
  });
  afterAll(() => db.drop());

  it('count the jobs due and running on the role\'s queue, not delayed ones or other queues', async () => {
    const queries = (rendered.production.filter((o) => o.kind === 'ScaledObject') as (K8sObject & { spec: ScaledSpec })[])
      .flatMap((s) => s.spec.triggers.filter((t) => t.type === 'postgresql').map((t) => ({ role: s.spec.scaleTargetRef.name.replace(/^nova-/, ''), query: t.metadata.query! })));
    const queue = new QueueClient(db.sql);
    for (const { role, query } of queries) {
      const [name] = queuesOf(role);
      const depth = async () => Number(Object.values((await db.sql.query<Record<string, unknown>>(query))[0]!)[0]);
      const before = await depth();
      await queue.sendBatch(name!, [1, 2, 3].map((n) => ({ payload: { n } })));
      await queue.send(name!, { n: 4 }, { delayMs: 3_600_000 });
      await queue.send('some_other_queue', { n: 5 });
      const [claimed] = await queue.claim(name!, { limit: 1, leaseMs: 60_000, workerId: 'test' });
      expect(claimed).toBeDefined();
      expect(await depth(), role).toBe(before + 3);
    }
    expect(queries.length).toBe(roles.filter((r) => queuesOf(r).length).length);
  });
});
