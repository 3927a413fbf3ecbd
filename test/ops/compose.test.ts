/**
 * docker-compose.yml, Dockerfile and conf/ agree: the compose file parses, names every port the user's
 * Janus deployment published (and the Admin API and metrics only on the host's loopback), mounts conf/
 * where the image reads it, and health-checks /janus/info.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadGatewayConfig } from '../../src/config/schema.js';
import { repoRoot } from '../helpers/repo.js';
import { parseYamlSubset, YamlSubsetError, type Yaml } from './yaml-subset.js';

const ROOT = repoRoot();
type Obj = { [k: string]: Yaml };

interface PortMap {
  ip: string | null;
  host: [number, number];
  container: [number, number];
  proto: 'tcp' | 'udp';
}

/** Compose short syntax: [ip:]host:container[/proto], each side a port or a range. */
function parsePort(spec: string): PortMap {
  const m = /^(?:(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\]):)?(\d+)(?:-(\d+))?:(\d+)(?:-(\d+))?(?:\/(tcp|udp))?$/.exec(spec);
  assert.ok(m, `unreadable port mapping "${spec}"`);
  const range = (a: string, b: string | undefined): [number, number] => [Number(a), Number(b ?? a)];
  return { ip: m[1] ?? null, host: range(m[2]!, m[3]), container: range(m[4]!, m[5]), proto: (m[6] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

function dockerfile(): { expose: string[]; configsFolder: string; healthcheck: string } {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runtime = text.split(/^FROM /m).at(-1)!;
  const expose = [...runtime.matchAll(/^EXPOSE\s+(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/));
  const entry = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(runtime)![1]!) as string[];
  const health = /^HEALTHCHECK\s+.*$/m.exec(runtime)![0];
  return { expose, configsFolder: entry[entry.indexOf('--configs-folder') + 1]!, healthcheck: health };
}

function compose(): Obj {
  const doc = parseYamlSubset(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'));
  assert.ok(doc && typeof doc === 'object' && !Array.isArray(doc));
  return doc as Obj;
}

function theService(): Obj {
  const services = compose().services as Obj;
  const names = Object.keys(services);
  assert.equal(names.length, 1, `one service, got ${names.join(', ')}`);
  return services[names[0]!] as Obj;
}

test('the YAML subset reader reads what compose files use and refuses the rest', () => {
  const doc = parseYamlSubset(
    [
      'a:',
      '  b: "x: y # not a comment"   # a comment',
      "  c: 'it''s'",
      '  d: [CMD, "node", 3]',
      '  e: {soft: 1, hard: 2}',
      '  list:',
      '    - "8088:8088/tcp"',
      '    - key: v',
      '      other: 2',
      '  f: true',
      '  g:',
    ].join('\n'),
  );
  assert.deepEqual(doc, {
    a: { b: 'x: y # not a comment', c: "it's", d: ['CMD', 'node', 3], e: { soft: 1, hard: 2 }, list: ['8088:8088/tcp', { key: 'v', other: 2 }], f: true, g: null },
  });
  assert.throws(() => parseYamlSubset('a: &anchor 1'), YamlSubsetError);
  assert.throws(() => parseYamlSubset('a:\n\tb: 1'), /tab/);
  assert.throws(() => parseYamlSubset('a: 1\na: 2'), /duplicate key/);
  assert.throws(() => parseYamlSubset('a: |\n  text'), YamlSubsetError);
});

test('compose: container janus_container, built from this repository, restarted, with a file-descriptor limit', () => {
  const s = theService();
  assert.equal(s.container_name, 'janus_container');
  assert.ok(s.build === '.' || (s.build as Obj | undefined)?.context === '.', `build: ${JSON.stringify(s.build)}`);
  assert.ok(['always', 'unless-stopped'].includes(String(s.restart)), `restart: ${String(s.restart)}`);
  const nofile = ((s.ulimits as Obj | undefined)?.nofile ?? {}) as Obj;
  assert.ok(Number(nofile.soft) >= 65536 && Number(nofile.hard) >= Number(nofile.soft), `ulimits.nofile ${JSON.stringify(nofile)}`);
  assert.equal(s.stop_signal, 'SIGTERM');
  const grace = /^(\d+)s$/.exec(String(s.stop_grace_period));
  assert.ok(grace && Number(grace[1]) > 5, 'stop_grace_period must exceed Portunus\'s 5 s shutdown bound');
});

test('compose: every port of the seed deployment, Admin API and metrics on the host loopback only, all matching conf/ and the Dockerfile', async () => {
  const s = theService();
  const ports = (s.ports as string[]).map(parsePort);
  const find = (port: number, proto: 'tcp' | 'udp') => ports.find((p) => p.container[0] === port && p.proto === proto);
  const cfg = await loadGatewayConfig({ configsFolder: join(ROOT, 'conf') });
  const range = cfg.janus.media.rtp_port_range!;
  const expected: Array<{ port: number; proto: 'tcp' | 'udp'; loopback: boolean; what: string }> = [
    { port: cfg.http.general.port, proto: 'tcp', loopback: false, what: 'Janus API (HTTP)' },
    { port: cfg.ws.general.ws_port, proto: 'tcp', loopback: false, what: 'Janus API (WebSocket)' },
    { port: cfg.http.admin.admin_port, proto: 'tcp', loopback: true, what: 'Admin API (HTTP)' },
    { port: cfg.http.metrics.metrics_port, proto: 'tcp', loopback: true, what: 'metrics' },
  ];
  assert.deepEqual(expected.map((e) => e.port), [8088, 8188, 7088, 7089], 'conf/ keeps the seed\'s port numbers');
  for (const e of expected) {
    const p = find(e.port, e.proto);
    assert.ok(p, `${e.what}: ${e.port}/${e.proto} is not published`);
    assert.deepEqual(p.host, p.container, `${e.what}: same port number on the host`);
    if (e.loopback) assert.equal(p.ip, '127.0.0.1', `${e.what} must be published on the host's 127.0.0.1 only`);
    else assert.equal(p.ip, null, `${e.what} is public`);
  }
  const rtp = find(range.min, 'udp');
  assert.ok(rtp, `the RTP range ${range.min}-${range.max}/udp is not published`);
  assert.deepEqual([rtp.container, rtp.host], [[range.min, range.max], [range.min, range.max]], 'RTP: the whole media.rtp_port_range, same numbers on both sides (ICE advertises them)');
  assert.deepEqual([range.min, range.max], [10000, 10500]);
  assert.equal(ports.length, expected.length + 1, `no other published port: ${JSON.stringify(s.ports)}`);

  // The image says which ports it serves; compose publishes a subset of them.
  const df = dockerfile();
  for (const p of ports) {
    const spec = p.container[0] === p.container[1] ? `${p.container[0]}/${p.proto}` : `${p.container[0]}-${p.container[1]}/${p.proto}`;
    assert.ok(df.expose.includes(spec), `Dockerfile does not EXPOSE ${spec} (EXPOSE ${df.expose.join(' ')})`);
  }
});

test('compose: ./conf is mounted where the image reads its configuration; the health check GETs /janus/info', () => {
  const s = theService();
  const df = dockerfile();
  const mounts = (s.volumes as string[]).map((v) => v.split(':'));
  const conf = mounts.find((m) => m[0] === './conf');
  assert.ok(conf, `./conf is not mounted: ${JSON.stringify(s.volumes)}`);
  assert.equal(conf[1], df.configsFolder, 'the image reads --configs-folder from there');
  const hc = s.healthcheck as Obj;
  const cmd = (hc.test as string[]).join(' ');
  assert.equal((hc.test as string[])[0], 'CMD');
  assert.match(cmd, /http:\/\/127\.0\.0\.1:8088\/janus\/info/);
  assert.ok(df.healthcheck.includes('http://127.0.0.1:8088/janus/info'), 'the Dockerfile health check agrees');
  for (const k of ['interval', 'timeout', 'retries']) assert.ok(hc[k] !== undefined && hc[k] !== null, `healthcheck.${k}`);
});

test('Dockerfile: multi-stage on a Node LTS image, non-root runtime, conf/ at the Janus path, Admin API rebound for publishing', () => {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const froms = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
  assert.ok(froms.length >= 2, 'multi-stage');
  const image = /^ARG NODE_IMAGE=(\S+)/m.exec(text)?.[1] ?? froms.at(-1)!;
  const major = Number(/^node:(\d+)/.exec(image)?.[1]);
  assert.ok(major >= 20 && major % 2 === 0, `Node LTS base image, got ${image}`);
  const runtime = text.split(/^FROM /m).at(-1)!;
  const user = /^USER\s+(\S+)/m.exec(runtime)?.[1];
  assert.ok(user && user !== 'root' && user !== '0', `runtime USER ${user}`);
  assert.match(runtime, /^COPY conf \/opt\/janus\/etc\/janus$/m);
  assert.match(runtime, /^ENV PORTUNUS_ADMIN_IP=0\.0\.0\.0$/m);
  assert.doesNotMatch(runtime, /COPY[^\n]*(test|bench)\b/, 'no tests in the runtime image');
});
