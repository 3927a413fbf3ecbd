import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/repo.js';
import { Harness } from './harness.js';

test('conf/janus.plugin.streaming.jcfg loads: rtp-sample (media list) and multistream-test, ports as configured', async () => {
  // the shipped ports may be busy on a shared machine: same file, ports picked from the range
  const text = readFileSync(join(repoRoot(), 'conf/janus.plugin.streaming.jcfg'), 'utf8').replace(/port = \d+/g, 'port = 0');
  const h = await Harness.start(text);
  try {
    const mp = h.plugin.mountpoint(1);
    assert.ok(mp, 'mountpoint 1');
    assert.equal(mp.name, 'rtp-sample');
    assert.equal(mp.secret, 'adminpwd');
    assert.deepEqual(mp.streams.map((s) => [s.spec.mid, s.spec.type, s.spec.codec, s.spec.pt]), [['a', 'audio', 'opus', 111], ['v', 'video', 'vp8', 100]]);
    const multi = h.plugin.mountpoint(123);
    assert.deepEqual(multi?.streams.map((s) => s.spec.mid), ['a', 'v1', 'v2']);
    assert.ok(multi!.source!.ports.every((p) => p[0] >= 10000), 'port 0 picked from the default 10000-60000 range');
    assert.deepEqual(h.warnings(), []);
  } finally {
    await h.stop();
  }
});

test("Janus's own sample loads as it is: legacy audio/video keys, the multistream list, the a-law/mu-law file sources", async () => {
  const text = readFileSync('/etc/janus/janus.plugin.streaming.jcfg', 'utf8').replace(/port = \d+/g, 'port = 0');
  const h = await Harness.start(text);
  try {
    const mp = h.plugin.mountpoint(1);
    assert.ok(mp);
    assert.equal(mp.spec.legacy, true);
    assert.deepEqual(mp.streams.map((s) => s.spec.mid), ['a', 'v']);
    assert.equal(mp.description, 'Opus/VP8 live stream coming from external source');
    assert.ok(h.plugin.mountpoint(123));
    assert.equal(h.plugin.mountpoint(2)?.streams[0]?.spec.codec, 'pcma', 'radio.alaw, live');
    assert.equal(h.plugin.mountpoint(3)?.streams[0]?.spec.codec, 'pcmu', 'music.mulaw, on demand');
    assert.equal(h.plugin.mountpoint(3)?.typeName, 'on demand');
    assert.deepEqual(h.warnings(), []);
  } finally {
    await h.stop();
  }
});

/** A range starting at a port that is free now (the machine is shared: fixed ranges may be taken). */
async function freeRange(): Promise<[number, number]> {
  const { createSocket } = await import('node:dgram');
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '0.0.0.0', () => r()));
  const p = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return [p, Math.min(65535, p + 50)];
}

test('a bad mountpoint is warned about with file:line and the key, the others load', async () => {
  const [lo, hi] = await freeRange();
  const h = await Harness.start(
    `general: {\n  rtp_port_range = "${lo}-${hi}"\n  bogus = 1\n}\n\nbad-type: {\n  type = "carrier-pigeon"\n  id = 7\n}\n\nno-port: {\n  type = "rtp"\n  id = 8\n  media = ({ type = "audio", mid = "a", pt = 111, codec = "opus" })\n}\n\nbad-codec: {\n  type = "rtp"\n  id = 9\n  audio = true\n  audioport = 0\n  audiopt = 111\n  audiocodec = "mp3"\n}\n\ngood: {\n  type = "rtp"\n  id = "10"\n  audio = "yes"\n  audioport = "0"\n  audiopt = "111"\n  audiocodec = "opus"\n}\n`,
  );
  try {
    const w = h.warnings();
    assert.ok(w.some((x) => x.includes('general.bogus') && /\.jcfg:1\b/.test(x)), w.join(' | '));
    assert.ok(w.some((x) => x.includes("'bad-type'") && /\.jcfg:6\b/.test(x) && x.includes('carrier-pigeon')), w.join(' | '));
    assert.ok(w.some((x) => x.includes("'no-port'") && /\.jcfg:11\b/.test(x) && x.includes('(port)')), w.join(' | '));
    assert.ok(w.some((x) => x.includes("'bad-codec'") && x.includes('mp3')), w.join(' | '));
    assert.equal(h.plugin.mountpoint(7), undefined);
    assert.equal(h.plugin.mountpoint(8), undefined);
    const good = h.plugin.mountpoint(10);
    assert.ok(good, `string numbers and "yes" read as Janus reads them: ${w.join(' | ')}`);
    const port = good.source!.ports[0]![0];
    assert.ok(port >= lo && port <= hi, `port ${port} from general.rtp_port_range`);
  } finally {
    await h.stop();
  }
});

test('string_ids: mountpoint ids are strings', async () => {
  const h = await Harness.start('general: {\n  string_ids = true\n}\nx: {\n  type = "rtp"\n  id = "cam-1"\n  media = ({ type = "video", mid = "v", port = 0, pt = 96, codec = "vp8" })\n}\n');
  try {
    assert.ok(h.plugin.mountpoint('cam-1'));
    const s = h.attach();
    assert.deepEqual(await h.sync(s, { request: 'info', id: 1 }), { streaming: 'event', error_code: 454, error: 'Invalid element type (id should be a string)' });
  } finally {
    await h.stop();
  }
});
