/**
 * docker-compose.cluster.yml (docs/operations.md "Cluster") agrees with the Dockerfile and
 * docker-compose.yml: it stays in the YAML subset the project reads, every node is the same image with
 * the same health check and configs folder, and no two nodes claim the same host port. Not run with a
 * container runtime (none here); the same cluster with real processes is test/cluster/cluster-nodes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/repo.js';
import { parseYamlSubset, type Yaml } from './yaml-subset.js';

const ROOT = repoRoot();
type Obj = { [k: string]: Yaml };

function load(file: string): Obj {
  const doc = parseYamlSubset(readFileSync(join(ROOT, file), 'utf8'));
  assert.ok(doc && typeof doc === 'object' && !Array.isArray(doc));
  return doc as Obj;
}

function hostPorts(spec: string): Array<[string, number]> {
  const m = /^(?:(\d+\.\d+\.\d+\.\d+):)?(\d+)(?:-(\d+))?:(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(spec);
  assert.ok(m, `unreadable port mapping "${spec}"`);
  const from = Number(m[2]);
  const to = Number(m[3] ?? m[2]);
  const out: Array<[string, number]> = [];
  for (let p = from; p <= to; p++) out.push([m[6] ?? 'tcp', p]);
  return out;
}

test('cluster compose: Redis plus three nodes of this image, each with its own conf and host ports', () => {
  const services = load('docker-compose.cluster.yml').services as Obj;
  assert.deepEqual(Object.keys(services), ['redis', 'node1', 'node2', 'node3']);
  const redis = services.redis as Obj;
  assert.equal(redis.ports, undefined, 'Redis is not published on the host (it holds room secrets)');
  const single = (load('docker-compose.yml').services as Obj).janus as Obj;
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const configsFolder = /"--configs-folder", "([^"]+)"/.exec(dockerfile)![1]!;
  const taken = new Set<string>();
  for (const name of ['node1', 'node2', 'node3']) {
    const s = services[name] as Obj;
    assert.equal(s.build, '.');
    assert.equal(s.image, single.image);
    assert.deepEqual(s.healthcheck, single.healthcheck, `${name}: the single-node health check`);
    assert.deepEqual((s.depends_on as Obj).redis, { condition: 'service_healthy' });
    const volumes = s.volumes as string[];
    assert.deepEqual(volumes, [`./conf-cluster/node-${name.slice(4)}:${configsFolder}:ro`]);
    for (const spec of s.ports as string[]) {
      for (const [proto, port] of hostPorts(spec)) {
        const key = `${proto}/${port}`;
        assert.ok(!taken.has(key), `${name}: host port ${key} is taken by another node`);
        taken.add(key);
      }
    }
  }
});
