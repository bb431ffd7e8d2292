import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/**
 * A renderer for the part of kustomize that deploy/kubernetes uses: `resources` (files and
 * directories), `namespace`, `images` (newName/newTag) and inline JSON 6902 `patches` with a
 * kind/name target. Anything else in a kustomization is an error, so a manifest change that
 * needs more fails here instead of rendering wrongly. Where `kubectl` is installed the test also
 * compares this output with `kubectl kustomize`.
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

const KNOWN_KEYS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'images', 'patches']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass', 'StorageClass']);
const POD_SPEC_PATHS: Record<string, string[]> = {
  Deployment: ['spec', 'template', 'spec'],
  StatefulSet: ['spec', 'template', 'spec'],
  DaemonSet: ['spec', 'template', 'spec'],
  Job: ['spec', 'template', 'spec'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template', 'spec'],
  Pod: ['spec'],
};

interface Kustomization {
  namespace?: string;
  resources?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: { target: { kind?: string; name?: string }; patch: string }[];
}

export function parseYamlFile(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    if (doc.errors.length) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS();
  }).filter((d) => d !== null && d !== undefined);
}

/** Renders the kustomization in `dir` into its objects. */
export function kustomize(dir: string): K8sObject[] {
  const [k] = parseYamlFile(join(dir, 'kustomization.yaml')) as Kustomization[];
  if (!k) throw new Error(`${dir}: empty kustomization.yaml`);
  const unknown = Object.keys(k).filter((key) => !KNOWN_KEYS.has(key));
  if (unknown.length) throw new Error(`${dir}/kustomization.yaml: unsupported fields ${unknown.join(', ')}`);

  let objects: K8sObject[] = [];
  for (const entry of k.resources ?? []) {
    const path = join(dir, entry);
    objects.push(...(statSync(path).isDirectory() ? kustomize(path) : (parseYamlFile(path) as K8sObject[])));
  }
  const seen = new Set<string>();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.name}`;
    if (seen.has(id)) throw new Error(`${dir}: ${id} is declared twice`);
    seen.add(id);
  }
  for (const p of k.patches ?? []) {
    const ops = parseOps(p.patch, dir);
    const targets = objects.filter((o) => (!p.target.kind || o.kind === p.target.kind) && (!p.target.name || o.metadata.name === p.target.name));
    if (!targets.length) throw new Error(`${dir}: patch target ${JSON.stringify(p.target)} matches nothing`);
    objects = objects.map((o) => (targets.includes(o) ? applyOps(o, ops) : o));
  }
  if (k.namespace) for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  for (const image of k.images ?? []) for (const o of objects) setImage(o, image);
  return objects;
}

type Op = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

function parseOps(text: string, dir: string): Op[] {
  const [ops] = parseAllDocuments(text).map((d) => d.toJS());
  if (!Array.isArray(ops)) throw new Error(`${dir}: only JSON 6902 patches (a list of operations) are supported`);
  for (const op of ops as Op[]) {
    if (!['add', 'replace', 'remove'].includes(op.op)) throw new Error(`${dir}: unsupported patch operation ${op.op}`);
  }
  return ops as Op[];
}

function applyOps<T>(object: T, ops: Op[]): T {
  const copy = structuredClone(object) as unknown;
  for (const op of ops) {
    const keys = op.path.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = keys.pop()!;
    let parent = copy as Record<string, unknown>;
    for (const key of keys) {
      if (typeof parent[key] !== 'object' || parent[key] === null) throw new Error(`patch path ${op.path}: ${key} does not exist`);
      parent = parent[key] as Record<string, unknown>;
    }
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(index, 0, op.value);
      else if (index >= parent.length) throw new Error(`patch path ${op.path} does not exist`);
      else if (op.op === 'replace') parent[index] = op.value;
      else parent.splice(index, 1);
    } else {
      if (op.op !== 'add' && !(last in parent)) throw new Error(`patch path ${op.path} does not exist`);
      if (op.op === 'remove') delete parent[last];
      else parent[last] = op.value;
    }
  }
  return copy as T;
}

function setImage(o: K8sObject, image: { name: string; newName?: string; newTag?: string }): void {
  const path = POD_SPEC_PATHS[o.kind];
  if (!path) return;
  let spec: unknown = o;
  for (const key of path) spec = (spec as Record<string, unknown> | undefined)?.[key];
  const pod = spec as { containers?: { image?: string }[]; initContainers?: { image?: string }[] } | undefined;
  for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    if (!c.image) continue;
    const name = c.image.replace(/@.*$/, '').replace(/:[^/:]+$/, '');
    if (name !== image.name) continue;
    const tag = image.newTag ?? (c.image.slice(name.length).replace(/^:/, '') || undefined);
    c.image = `${image.newName ?? name}${tag ? `:${tag}` : ''}`;
  }
}

/** The kustomization directories of deploy/kubernetes. */
export function kustomizations(root: string): Record<'base' | 'dev' | 'production', string> {
  const k = join(root, 'deploy/kubernetes');
  return { base: join(k, 'base'), dev: join(k, 'overlays/dev'), production: join(k, 'overlays/production') };
}
