import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rtpSeq, rtpTimestamp } from '../../../src/media/rtp/header.js';
import { Harness, opusPacket, portsOf, Sender, until, vp8Packet } from './harness.js';

const CFG = 'general: {\n}\nav: {\n  type = "rtp"\n  id = 1\n  media = (\n    { type = "audio", mid = "a", port = 0, pt = 111, codec = "opus" },\n    { type = "video", mid = "v", port = 0, pt = 100, codec = "vp8" },\n    { type = "data", mid = "d", port = 0, buffermsg = true }\n  )\n}\nother: {\n  type = "rtp"\n  id = 2\n  media = (\n    { type = "audio", mid = "a", port = 0, pt = 111, codec = "opus" },\n    { type = "video", mid = "v", port = 0, pt = 100, codec = "vp8" }\n  )\n}\n';

test('rtp mountpoint: audio at once, video from a keyframe, late viewer sees the buffered keyframe; one relay per viewer with its own SSRC', async () => {
  const h = await Harness.start(CFG);
  const tx = new Sender();
  try {
    const [aPort, vPort, dPort] = await portsOf(h, 1);
    const v1 = await h.viewer(1);
    await tx.send(aPort!, opusPacket(1, 960, 0xaaaa));
    await tx.send(vPort!, vp8Packet(10, 3000, 0xbbbb)); // delta: not decodable for a new viewer
    await until(() => h.host.rtpTo(v1, 'a').length === 1, 3000, 'audio relayed');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.host.rtpTo(v1, 'v').length, 0, 'no video before a keyframe');
    // a two-packet keyframe, then a delta
    await tx.send(vPort!, vp8Packet(11, 6000, 0xbbbb, { key: true }));
    await tx.send(vPort!, vp8Packet(12, 6000, 0xbbbb, { start: false, marker: true }));
    await tx.send(vPort!, vp8Packet(13, 9000, 0xbbbb, { marker: true }));
    await until(() => h.host.rtpTo(v1, 'v').length === 3, 3000, 'keyframe and delta relayed');
    const seqs = h.host.rtpTo(v1, 'v').map((p) => rtpSeq(p));
    assert.deepEqual(seqs.map((s) => (s - seqs[0]! + 0x10000) & 0xffff), [0, 1, 2], 'continuous sequence numbers');
    const ts = h.host.rtpTo(v1, 'v').map((p) => rtpTimestamp(p));
    assert.equal(ts[0], ts[1]);
    assert.equal((ts[2]! - ts[0]! + 2 ** 32) % 2 ** 32, 3000, 'timestamp spacing kept');

    // a late viewer gets the stored keyframe at once, then waits for the next live keyframe
    const v2 = await h.viewer(1);
    assert.equal(h.host.rtpTo(v2, 'v').length, 2, 'buffered keyframe (2 packets) sent on setup');
    await tx.send(vPort!, vp8Packet(14, 12000, 0xbbbb, { marker: true }));
    await until(() => h.host.rtpTo(v1, 'v').length === 4, 3000, 'v1 gets the delta');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.host.rtpTo(v2, 'v').length, 2, 'v2 skips deltas after the buffered keyframe');
    await tx.send(vPort!, vp8Packet(15, 15000, 0xbbbb, { key: true, marker: true }));
    await until(() => h.host.rtpTo(v2, 'v').length === 3, 3000, 'v2 resumes on a live keyframe');
    const s2 = h.host.rtpTo(v2, 'v').map((p) => rtpSeq(p));
    assert.equal((s2[2]! - s2[1]! + 0x10000) & 0xffff, 1, 'no sequence gap for v2 across the skipped deltas');

    // data: relayed as text, the last message kept for new viewers
    await tx.send(dPort!, Buffer.from('now playing: test'));
    await until(() => h.host.data.filter((d) => d.handleId === v1.handleId).length === 1, 3000, 'data relayed');
    assert.equal(h.host.data.find((d) => d.handleId === v1.handleId)!.data, 'now playing: test');
    const v3 = await h.viewer(1);
    assert.equal(h.host.data.find((d) => d.handleId === v3.handleId)?.data, 'now playing: test', 'buffermsg');

    // pause stops the flow for that viewer only
    assert.deepEqual(await h.async(v1, { request: 'pause' }), { streaming: 'event', result: { status: 'pausing' } });
    const before = h.host.rtpTo(v1, 'a').length;
    await tx.send(aPort!, opusPacket(2, 1920, 0xaaaa));
    await until(() => h.host.rtpTo(v2, 'a').length === 1, 3000, 'v2 audio');
    assert.equal(h.host.rtpTo(v1, 'a').length, before, 'paused viewer gets nothing');

    // info counts viewers and shows recent media
    const info = (await h.sync(h.attach(), { request: 'info', id: 1 })).info as { viewers: number; media: Array<{ age_ms: number }> };
    assert.equal(info.viewers, 3);
    assert.ok(info.media[0]!.age_ms < 5000);
  } finally {
    tx.close();
    await h.stop();
  }
});

test('switch moves a viewer to another mountpoint on the same PeerConnection, continuous sequence numbers', async () => {
  const h = await Harness.start(CFG);
  const tx = new Sender();
  try {
    const [a1] = await portsOf(h, 1);
    const [a2] = await portsOf(h, 2);
    const v = await h.viewer(1, { media: ['a'] });
    await tx.send(a1!, opusPacket(100, 960, 1));
    await until(() => h.host.rtpTo(v, 'a').length === 1);
    assert.deepEqual(await h.async(v, { request: 'switch', id: 2 }), { streaming: 'event', result: { switched: 'ok', id: 2 } });
    await tx.send(a1!, opusPacket(101, 1920, 1));
    await tx.send(a2!, opusPacket(5000, 77777, 2));
    await until(() => h.host.rtpTo(v, 'a').length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    const got = h.host.rtpTo(v, 'a');
    assert.equal(got.length, 2, 'the old mountpoint no longer feeds the viewer');
    assert.equal((rtpSeq(got[1]!) - rtpSeq(got[0]!) + 0x10000) & 0xffff, 1);
    assert.deepEqual(await h.async(v, { request: 'stop' }), { streaming: 'event', result: { status: 'stopping' } });
    assert.ok(h.host.closed.some((c) => c.handleId === v.handleId));
  } finally {
    tx.close();
    await h.stop();
  }
});

test('destroy and kick_all end viewers with a stopped event and a hangup', async () => {
  const h = await Harness.start(CFG);
  try {
    const v = await h.viewer(2);
    assert.deepEqual(await h.sync(h.attach(), { request: 'kick_all', id: 2 }), { streaming: 'kicked_all' });
    assert.ok(h.host.unsolicited(v).some((d) => JSON.stringify(d) === JSON.stringify({ streaming: 'event', result: { status: 'stopped' } })));
    assert.ok(h.host.closed.some((c) => c.handleId === v.handleId));
    const w = await h.viewer(2);
    assert.deepEqual(await h.sync(h.attach(), { request: 'destroy', id: 2 }), { streaming: 'destroyed', destroyed: 2 });
    assert.ok(h.host.closed.some((c) => c.handleId === w.handleId));
    assert.deepEqual(await h.async(w, { request: 'configure' }), { streaming: 'event', error_code: 455, error: "Can't configure: not on a mountpoint" });
  } finally {
    await h.stop();
  }
});

test('simulcast: three ports, the viewer gets the top substream, configure substream switches at a keyframe of the wanted one', async () => {
  const h = await Harness.start('general: {\n}\nsim: {\n  type = "rtp"\n  id = 9\n  media = ({ type = "video", mid = "v", port = 0, port2 = 0, port3 = 0, pt = 100, codec = "vp8", simulcast = true })\n}\n');
  const tx = new Sender();
  try {
    const ports = h.plugin.mountpoint(9)!.source!.ports[0]!;
    assert.ok(ports.every((p) => p > 0), 'three ports bound');
    const v = await h.viewer(9);
    const ssrcs = [0x100, 0x200, 0x300];
    const seq = [0, 1000, 2000]; // each layer has its own sequence space
    const frame = async (sub: number, key: boolean, ts: number) => tx.send(ports[sub]!, vp8Packet(seq[sub]!++, ts, ssrcs[sub]!, { key, marker: true }));
    // all three layers send a keyframe then deltas
    for (let i = 0; i < 3; i++) await frame(i, true, 1000);
    await until(() => h.host.rtpTo(v).length >= 1, 3000, 'a layer');
    for (let i = 0; i < 3; i++) await frame(i, false, 4000);
    await until(() => h.host.rtpTo(v).length >= 2, 3000, 'deltas');
    await new Promise((r) => setTimeout(r, 100));
    // only the first layer to bring a keyframe (the wanted top one, or a fallback while none is sent) is relayed
    const before = h.host.rtpTo(v).length;
    await frame(2, false, 7000);
    await until(() => h.host.rtpTo(v).length === before + 1, 3000, 'top layer delta');
    assert.equal(h.plugin.querySession(v).streams instanceof Array, true);
    assert.deepEqual(await h.async(v, { request: 'configure', mid: 'v', substream: 0 }), { streaming: 'event', result: { event: 'configured' } });
    const n = h.host.rtpTo(v).length;
    await frame(0, false, 7000); // a delta of layer 0: no switch yet
    await frame(2, false, 10000); // the current layer still flows until the switch
    await until(() => h.host.rtpTo(v).length === n + 1, 3000, 'current layer until the switch');
    await frame(0, true, 10000); // keyframe of layer 0: switch
    await frame(2, false, 13000); // layer 2 no longer relayed
    await frame(0, false, 13000);
    await until(() => h.host.rtpTo(v).length === n + 3, 3000, 'layer 0 after the switch');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(h.host.rtpTo(v).length, n + 3);
    const layers = h.host.unsolicited(v).filter((d) => (d.result as { substream?: number } | undefined)?.substream !== undefined).map((d) => (d.result as { substream: number }).substream);
    assert.deepEqual(layers, [0, 2, 0], 'substream events as the layer changes (first layer, the top one, the configured one)');
    const got = h.host.rtpTo(v).map((p) => p.readUInt16BE(2));
    for (let i = 1; i < got.length; i++) assert.equal((got[i]! - got[i - 1]! + 0x10000) & 0xffff, 1, `continuous seq across layers (${got.join(',')})`);
  } finally {
    tx.close();
    await h.stop();
  }
});

test('recording: a stream to .mjr while it is relayed, stopped by mid', async () => {
  const h = await Harness.start(CFG);
  const tx = new Sender();
  try {
    const { mkdtempSync, readFileSync, existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const base = join(mkdtempSync(join(tmpdir(), 'st-rec-')), 'audio');
    const s = h.attach();
    assert.deepEqual(await h.sync(s, { request: 'recording', id: 1, action: 'start', media: [{ mid: 'a', filename: base }] }), { streaming: 'ok' });
    assert.equal(((await h.sync(s, { request: 'recording', id: 1, action: 'start', media: [{ mid: 'a', filename: base }] })).error_code), 459, 'already recording');
    const [aPort] = await portsOf(h, 1);
    for (let i = 0; i < 10; i++) await tx.send(aPort!, opusPacket(i, i * 960, 0xaaaa));
    await until(() => (h.plugin.mountpoint(1)!.streams[0]!.recorder?.frames ?? 0) >= 10, 3000, 'frames recorded');
    const rec = h.plugin.mountpoint(1)!.streams[0]!.recorder!;
    assert.deepEqual(await h.sync(s, { request: 'recording', id: 1, action: 'stop', media: [{ mid: 'a' }] }), { streaming: 'ok' });
    await rec.close();
    assert.ok(existsSync(`${base}.mjr`));
    assert.equal(readFileSync(`${base}.mjr`).subarray(0, 8).toString('latin1'), 'MJR00002');
  } finally {
    tx.close();
    await h.stop();
  }
});
