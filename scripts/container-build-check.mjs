#!/usr/bin/env node
/**
 * Replays the Dockerfile on this machine, without a container engine, to catch a broken image build:
 *
 *   1. the build context is made from a clean copy of the repository, filtered by .dockerignore;
 *   2. every stage's WORKDIR / COPY / RUN / ENV / USER runs in its own directory standing for the
 *      stage's filesystem (RUN with `sh -c`, so `npm ci`, `tsc` and `npm prune` really run);
 *   3. the final stage must run as a non-root user and hold no dev dependency, no test or bench;
 *   4. its ENTRYPOINT starts the server from that pruned tree, with the image's ENV and the image's
 *      conf/ (ports moved to free ones so it can run next to anything), the HEALTHCHECK command must
 *      pass, GET /janus/info, the Admin API and /metrics must answer, and SIGTERM must exit 0 in time.
 *
 * Usage: node scripts/container-build-check.mjs [--keep]    (prints "container-build-check: OK")
 * What it cannot check: the base image itself (its Node version, its `node` user), EXPOSE vs the
 * runtime, and anything an engine does (layers, networking). test/ops/compose.test.ts covers the
 * compose file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const KEEP = process.argv.includes('--keep');
const SHUTDOWN_BOUND_MS = 5000;

const say = (m) => process.stdout.write(`container-build-check: ${m}\n`);
function fail(m) {
  process.stderr.write(`container-build-check: FAILED: ${m}\n`);
  process.exit(1);
}

// ------------------------------------------------------------------ Dockerfile subset parser

/** Instructions with line numbers; continuation lines joined, comments dropped, ${ARG}s substituted. */
export function parseDockerfile(text) {
  const lines = text.split('\n');
  const out = [];
  const args = new Map();
  let buf = '';
  let startLine = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (buf === '' && /^\s*(#.*)?$/.test(raw)) continue;
    if (buf !== '' && /^\s*#/.test(raw)) continue; // comment inside a continued instruction
    if (buf === '') startLine = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, ' ');
      continue;
    }
    buf += raw;
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(buf);
    buf = '';
    if (!m) throw new Error(`Dockerfile:${startLine}: cannot read this line`);
    const op = m[1].toUpperCase();
    let rest = m[2].trim().replace(/\$\{(\w+)\}/g, (_, n) => args.get(n) ?? '');
    if (op === 'ARG') {
      const [n, ...v] = rest.split('=');
      args.set(n.trim(), v.join('=').trim());
      continue;
    }
    out.push({ op, rest, line: startLine });
  }
  return out;
}

function execForm(rest, line) {
  try {
    const v = JSON.parse(rest);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v;
  } catch {
    /* below */
  }
  throw new Error(`Dockerfile:${line}: expected the exec (JSON array) form, got ${rest}`);
}

/** `--flag=value` options, then the remaining words. */
function options(rest) {
  const opts = {};
  const words = rest.split(/\s+/).filter(Boolean);
  while (words.length > 0 && words[0].startsWith('--')) {
    const [k, v] = words.shift().slice(2).split('=');
    opts[k] = v ?? true;
  }
  return { opts, words };
}

// ------------------------------------------------------------------ helpers

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => res(p));
    });
  });
}

/** The .dockerignore allow-list subset: "**" then "!<top-level path>" lines. */
function contextEntries() {
  const path = join(REPO, '.dockerignore');
  if (!existsSync(path)) fail('.dockerignore is missing (the build context would carry node_modules and dist)');
  const rules = readFileSync(path, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (rules[0] !== '**') fail('.dockerignore must start with "**" (allow-list form)');
  const allowed = [];
  for (const r of rules.slice(1)) {
    const m = /^!([^*?/][^*?]*?)\/?$/.exec(r);
    if (!m || m[1].includes('/')) fail(`.dockerignore: only "!<top-level path>" lines are understood here, got "${r}"`);
    allowed.push(m[1]);
  }
  return allowed;
}

function run(cmd, cwd, env) {
  const r = spawnSync('sh', ['-c', cmd], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 8 * 60_000 });
  if (r.status !== 0) fail(`RUN ${cmd}\n  exit ${r.status ?? r.signal}\n${(r.stdout ?? '').slice(-3000)}${(r.stderr ?? '').slice(-3000)}`);
}

async function getJson(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return r.json();
}

// ------------------------------------------------------------------ main

const work = mkdtempSync(join(tmpdir(), 'portunus-image-'));
let server = null;
const cleanup = () => {
  if (server && server.exitCode === null) server.kill('SIGKILL');
  if (!KEEP) rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);

const dockerfile = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));

// 1. build context: a clean copy of the repository's allowed paths
const context = join(work, 'context');
mkdirSync(context);
for (const entry of contextEntries()) {
  const src = join(REPO, entry);
  if (!existsSync(src)) fail(`.dockerignore allows "${entry}", which does not exist`);
  cpSync(src, join(context, entry), { recursive: true });
}
say(`context: ${readdirSync(context).sort().join(', ')}`);

// 2. stages
const stages = [];
let stage = null;
for (const ins of dockerfile) {
  const { op, rest, line } = ins;
  if (op === 'FROM') {
    const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
    if (!m) fail(`Dockerfile:${line}: FROM ${rest}`);
    const lts = /^node:(\d+)/.exec(m[1]);
    if (!lts || Number(lts[1]) % 2 !== 0) fail(`Dockerfile:${line}: base image ${m[1]} is not a Node LTS image (node:<even major>...)`);
    if (Number(lts[1]) !== Number(process.versions.node.split('.')[0])) {
      say(`note: the image uses Node ${lts[1]}, this check runs on Node ${process.versions.node}`);
    }
    stage = { name: m[2] ?? String(stages.length), image: m[1], root: join(work, `stage${stages.length}`), workdir: '/', env: {}, user: 'root', entrypoint: null, cmd: null, healthcheck: null, expose: [] };
    mkdirSync(stage.root);
    stages.push(stage);
    continue;
  }
  if (!stage) fail(`Dockerfile:${line}: ${op} before FROM`);
  const inStage = (p) => join(stage.root, isAbsolute(p) ? p : join(stage.workdir, p));
  switch (op) {
    case 'WORKDIR':
      stage.workdir = isAbsolute(rest) ? rest : join(stage.workdir, rest);
      mkdirSync(join(stage.root, stage.workdir), { recursive: true });
      break;
    case 'ENV': {
      for (const m of rest.matchAll(/(\w+)=("[^"]*"|\S*)/g)) stage.env[m[1]] = m[2].replace(/^"|"$/g, '');
      break;
    }
    case 'COPY': {
      const { opts, words } = options(rest);
      const dst = words.pop();
      if (!dst || words.length === 0) fail(`Dockerfile:${line}: COPY needs a source and a destination`);
      let fromRoot = context;
      let fromDir = '/';
      if (opts.from) {
        const s = stages.find((x) => x.name === opts.from);
        if (!s) fail(`Dockerfile:${line}: COPY --from=${opts.from}: no such stage`);
        fromRoot = s.root;
      }
      const target = inStage(dst);
      for (const src of words) {
        const from = opts.from ? join(fromRoot, isAbsolute(src) ? src : join(fromDir, src)) : join(context, src);
        if (!existsSync(from)) fail(`Dockerfile:${line}: COPY ${src}: not in the ${opts.from ? `stage ${opts.from}` : 'build context (.dockerignore?)'}`);
        const into = dst.endsWith('/') || words.length > 1 ? join(target, src.split('/').filter(Boolean).pop()) : target;
        mkdirSync(dirname(into), { recursive: true });
        cpSync(from, into, { recursive: true });
      }
      break;
    }
    case 'RUN': {
      if (rest.startsWith('[')) fail(`Dockerfile:${line}: use the shell form of RUN`);
      if (/(^|\s)\/(?!dev\/null)/.test(rest)) fail(`Dockerfile:${line}: RUN with an absolute path cannot be replayed here: ${rest}`);
      say(`RUN ${rest}`);
      const t0 = Date.now();
      // The npm cache makes this quicker when it is warm; it still resolves exactly the lock file.
      run(rest, join(stage.root, stage.workdir), { ...process.env, ...stage.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false' });
      say(`  done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      break;
    }
    case 'USER':
      stage.user = rest.trim();
      break;
    case 'EXPOSE':
      stage.expose.push(...rest.split(/\s+/));
      break;
    case 'ENTRYPOINT':
      stage.entrypoint = execForm(rest, line);
      break;
    case 'CMD':
      stage.cmd = execForm(rest, line);
      break;
    case 'HEALTHCHECK': {
      const { words } = options(rest);
      if (words[0] !== 'CMD') fail(`Dockerfile:${line}: HEALTHCHECK must use CMD`);
      stage.healthcheck = execForm(rest.slice(rest.indexOf('CMD') + 3).trim(), line);
      break;
    }
    case 'STOPSIGNAL':
      if (rest.trim() !== 'SIGTERM') fail(`Dockerfile:${line}: Portunus shuts down gracefully on SIGTERM, not ${rest}`);
      break;
    case 'LABEL':
      break;
    default:
      fail(`Dockerfile:${line}: ${op} is not replayed by this check (extend scripts/container-build-check.mjs)`);
  }
}
const final = stages.at(-1);
if (!final || stages.length < 2) fail('expected a multi-stage Dockerfile');

// 3. what the runtime image holds
if (['root', '0', '0:0', 'root:root'].includes(final.user)) fail('the runtime stage runs as root (USER)');
const app = join(final.root, final.workdir);
for (const dev of ['typescript', '@types/node', 'janode', 'playwright-core']) {
  if (existsSync(join(app, 'node_modules', dev))) fail(`dev dependency ${dev} is in the runtime image (npm prune --omit=dev?)`);
}
for (const p of ['test', 'bench', 'dist/test', 'src']) if (existsSync(join(app, p))) fail(`${p}/ should not be in the runtime image`);
if (!final.entrypoint) fail('no ENTRYPOINT in the runtime stage');
if (!final.healthcheck) fail('no HEALTHCHECK in the runtime stage');
if (!final.healthcheck.join(' ').includes('/janus/info')) fail('the HEALTHCHECK should GET /janus/info');
say(`runtime stage: user ${final.user}, node_modules ${readdirSync(join(app, 'node_modules')).length} entries, workdir ${final.workdir}`);

// 4. start it the way the image would, with the image's conf/ on free ports
const argv = [...final.entrypoint, ...(final.cmd ?? [])];
const confIdx = argv.findIndex((a) => a === '--configs-folder' || a === '-F');
if (confIdx < 0) fail('the ENTRYPOINT should name the configs folder (--configs-folder)');
const imageConf = join(final.root, argv[confIdx + 1]);
if (!existsSync(join(imageConf, 'janus.jcfg'))) fail(`no janus.jcfg in the image's ${argv[confIdx + 1]}`);
const ports = { http: await freePort(), ws: await freePort(), admin: await freePort(), adminWs: await freePort(), metrics: await freePort() };
const conf = join(work, 'conf-run');
cpSync(imageConf, conf, { recursive: true });
const edit = (file, pairs) => {
  const p = join(conf, file);
  let text = readFileSync(p, 'utf8');
  for (const [key, value] of pairs) {
    const re = new RegExp(`^(\\s*${key}\\s*=\\s*)\\S+`, 'm');
    if (!re.test(text)) fail(`${file} in the image has no ${key}`);
    text = text.replace(re, `$1${value}`);
  }
  writeFileSync(p, text);
};
edit('janus.transport.http.jcfg', [['port', ports.http], ['admin_port', ports.admin], ['metrics_port', ports.metrics]]);
edit('janus.transport.websockets.jcfg', [['ws_port', ports.ws], ['admin_ws_port', ports.adminWs]]);
edit('janus.jcfg', [['rtp_port_range', '"47000-47099"']]);
const mapArg = (a, i) => {
  if (i === 0 && a === 'node') return process.execPath;
  if (i === confIdx + 1) return conf;
  return isAbsolute(a) && existsSync(join(final.root, a)) ? join(final.root, a) : a;
};
const [bin, ...args] = argv.map(mapArg);
const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/tmp', ...final.env, PORTUNUS_LOG_PRETTY: '0' };
say(`start: ${argv.join(' ')}  (ports ${JSON.stringify(ports)})`);
let out = '';
server = spawn(bin, args, { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] });
server.stdout.on('data', (d) => (out += d));
server.stderr.on('data', (d) => (out += d));
const exited = new Promise((res) => server.on('exit', (code, signal) => res({ code, signal })));

const health = final.healthcheck.map((a, i) => (i === 0 && a === 'node' ? process.execPath : a.replaceAll(':8088/', `:${ports.http}/`)));
const deadline = Date.now() + 30_000;
for (;;) {
  if (server.exitCode !== null) fail(`the server exited (${server.exitCode}) before it was healthy:\n${out}`);
  const r = spawnSync(health[0], health.slice(1), { cwd: app, env, timeout: 3000 });
  if (r.status === 0) break;
  if (Date.now() > deadline) fail(`HEALTHCHECK never passed within 30 s:\n${out}`);
  await new Promise((r2) => setTimeout(r2, 250));
}
say('HEALTHCHECK passes');
try {
  const info = await getJson(`http://127.0.0.1:${ports.http}/janus/info`);
  if (info.janus !== 'server_info') throw new Error(`/janus/info answered ${JSON.stringify(info).slice(0, 200)}`);
  const plugins = Object.keys(info.plugins ?? {});
  say(`GET /janus/info: ${info.name} ${info.version_string}, plugins ${plugins.join(', ')}, transports ${Object.keys(info.transports ?? {}).join(', ')}`);
  if (!plugins.includes('janus.plugin.videoroom')) throw new Error('the VideoRoom plugin is not loaded');
  const admin = await getJson(`http://127.0.0.1:${ports.admin}/admin/info`);
  if (admin.janus !== 'server_info') throw new Error('the Admin API does not answer info');
  const want = final.env.PORTUNUS_ADMIN_IP;
  if (want) {
    const line = out.split('\n').find((l) => l.includes('"msg":"transport janus.transport.http"'));
    const host = line ? JSON.parse(line).admin?.host : undefined;
    if (host !== want) throw new Error(`the Admin API should bind PORTUNUS_ADMIN_IP=${want} (the image's ENV), it bound ${host}`);
  }
  say(`Admin API answers, bound to ${want ?? 'conf/\'s address'}`);
  const metrics = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
  for (const name of ['portunus_sessions ', 'portunus_peerconnections{', 'nodejs_eventloop_lag_seconds ', 'process_open_fds ']) {
    if (!metrics.includes(name)) throw new Error(`/metrics has no ${name.trim()}`);
  }
  say('GET /metrics: portunus_*, nodejs_* and process_* metrics present');
} catch (err) {
  fail(`${err.message}\nserver output:\n${out}`);
}

const t0 = Date.now();
server.kill('SIGTERM');
const { code, signal } = await exited;
const ms = Date.now() - t0;
if (code !== 0) fail(`SIGTERM: exit ${code ?? signal} after ${ms} ms\n${out}`);
if (ms > SHUTDOWN_BOUND_MS) fail(`SIGTERM: took ${ms} ms (bound ${SHUTDOWN_BOUND_MS})`);
say(`SIGTERM: exit 0 in ${ms} ms`);
say('OK');
