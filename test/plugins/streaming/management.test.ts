import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Jcfg } from '../../../src/config/jcfg.js';
import { Harness, Sender, until } from './harness.js';

const err = (code: number, error: string) => ({ streaming: 'event', error_code: code, error });

const BASE = 'general: {\n  admin_key = "ak"\n}\nsample: {\n  type = "rtp"\n  id = 1\n  secret = "s1"\n  pin = "p1"\n  media = ({ type = "audio", mid = "a", port = 0, pt = 111, codec = "opus" })\n}\n';

test('admin_key guards create; secrets guard edit/destroy/enable/disable/kick_all/recording; pins guard watch', async () => {
  const h = await Harness.start(BASE);
  try {
    const s = h.attach();
    const mk = { request: 'create', type: 'rtp', id: 2, media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }] };
    assert.deepEqual(await h.sync(s, mk), err(453, 'Missing mandatory element (admin_key)'));
    assert.deepEqual(await h.sync(s, { ...mk, admin_key: 'x' }), err(457, 'Unauthorized (wrong admin_key)'));
    assert.equal((await h.sync(s, { ...mk, admin_key: 'ak' })).streaming, 'created');
    for (const request of ['edit', 'destroy', 'enable', 'disable', 'kick_all']) {
      assert.deepEqual(await h.sync(s, { request, id: 1 }), err(453, 'Missing mandatory element (secret)'), request);
      assert.deepEqual(await h.sync(s, { request, id: 1, secret: 'no' }), err(457, 'Unauthorized (wrong secret)'), request);
    }
    assert.deepEqual(await h.sync(s, { request: 'recording', id: 1, action: 'start', secret: 'no', media: [] }), err(457, 'Unauthorized (wrong secret)'));
    assert.deepEqual(await h.async(s, { request: 'watch', id: 1 }), err(453, 'Missing mandatory element (pin)'));
    assert.deepEqual(await h.async(s, { request: 'watch', id: 1, pin: 'x' }), err(457, 'Unauthorized (wrong pin)'));
    const ok = await h.asyncFull(s, { request: 'watch', id: 1, pin: 'p1' });
    assert.deepEqual(ok.data, { streaming: 'event', result: { status: 'preparing' } });
    assert.match(ok.jsep!.sdp, /m=audio 9 UDP\/TLS\/RTP\/SAVPF 111/);
    assert.match(ok.jsep!.sdp, /a=sendonly/);
    assert.match(ok.jsep!.sdp, /a=rtpmap:111 opus\/48000\/2/);
    // info without the secret hides name, ports, viewers; with it they show
    const pub = (await h.sync(s, { request: 'info', id: 1 })).info as Record<string, unknown>;
    assert.equal(pub.name, undefined);
    const adm = (await h.sync(s, { request: 'info', id: 1, secret: 's1' })).info as Record<string, unknown>;
    assert.equal(adm.name, 'sample');
    assert.equal(adm.viewers, 1);
    assert.equal(adm.pin, 'p1');
  } finally {
    await h.stop();
  }
});

test('create/edit/destroy with permanent write the jcfg, and a restart reads them back', async () => {
  const h = await Harness.start('general: {\n}\n');
  try {
    const s = h.attach();
    const created = await h.sync(s, {
      request: 'create', type: 'rtp', id: 42, name: 'cam', description: 'Cam', secret: 'k', permanent: true,
      media: [{ type: 'video', mid: 'v', port: 0, pt: 96, codec: 'vp8', simulcast: true }, { type: 'data', mid: 'd', port: 0 }],
    });
    assert.equal(created.permanent, true);
    const stream = created.stream as { ports: Array<{ port: number; port_2?: number; port_3?: number }> };
    assert.ok(stream.ports[0]!.port_3! > 0, 'three ports for a simulcast stream');
    assert.deepEqual(await h.sync(s, { request: 'edit', id: 42, secret: 'k', new_description: 'Camera', new_pin: '1234', permanent: true }), { streaming: 'edited', id: 42, permanent: true });
    const back = Jcfg.fromText(readFileSync(h.doc.file, 'utf8'), h.doc.file);
    const cat = back.category('cam')!;
    assert.equal(cat.description, 'Camera');
    assert.equal(cat.pin, '1234');
    assert.equal(cat.id, 42);
    const h2 = await Harness.start(readFileSync(h.doc.file, 'utf8').replace(/port(\d?) = \d+/g, 'port$1 = 0'));
    try {
      const mp = h2.plugin.mountpoint(42);
      assert.ok(mp, 'read back');
      assert.equal(mp.description, 'Camera');
      assert.deepEqual(mp.streams.map((x) => [x.spec.mid, x.spec.simulcast]), [['v', true], ['d', false]]);
    } finally {
      await h2.stop();
    }
    assert.deepEqual(await h.sync(s, { request: 'destroy', id: 42, secret: 'k', permanent: true }), { streaming: 'destroyed', destroyed: 42 });
    assert.equal(Jcfg.fromText(readFileSync(h.doc.file, 'utf8'), h.doc.file).category('cam'), undefined);
  } finally {
    await h.stop();
  }
});

test('bad requests answer Janus codes and never throw', async () => {
  const h = await Harness.start('general: {\n}\n');
  try {
    const s = h.attach();
    assert.deepEqual(await h.sync(s, {}), err(453, 'Missing mandatory element (request)'));
    assert.deepEqual(await h.sync(s, { request: 'exists', id: 1 }), err(452, "Unknown request 'exists'"));
    assert.deepEqual(await h.sync(s, { request: 'create', type: 'rtp' }), err(456, "Can't add 'rtp' stream, no audio or video have to be streamed..."));
    assert.deepEqual(await h.sync(s, { request: 'create', type: 'rtp', id: 'a' }), err(454, 'Invalid element type (id should be a positive integer)'));
    assert.deepEqual(await h.sync(s, { request: 'create', type: 'rtp', media: 'x' }), err(454, 'Invalid element type (media should be an array)'));
    assert.deepEqual(await h.sync(s, { request: 'create', type: 'rtp', media: [null] }), err(454, 'Invalid element type (media[0] should be an object)'));
    assert.deepEqual(await h.sync(s, { request: 'create', type: 'rtp', media: [{ type: 'audio', mid: 'a', port: 70000, pt: 111, codec: 'opus' }] }).then((d) => d.error_code), 456);
    assert.deepEqual(await h.sync(s, { request: 'info', id: 99 }), err(455, 'No such mountpoint/stream 99'));
    assert.deepEqual(await h.async(s, { request: 'start' }), err(455, "Can't start: no mountpoint set"));
    assert.deepEqual(await h.async(s, { request: 'configure' }), err(455, "Can't configure: not on a mountpoint"));
    assert.deepEqual(await h.async(s, { request: 'switch', id: 1 }), err(455, "Can't switch: not on a mountpoint"));
    assert.deepEqual(await h.async(s, { request: 'watch' }), err(453, 'Missing mandatory element (id)'));
  } finally {
    await h.stop();
  }
});

test('rtcpport = 0 picks a port that create, info and permanent report, and a sender reaching it gets the viewers\' PLIs', async () => {
  const h = await Harness.start('general: {\n}\n');
  const sender = new Sender();
  try {
    const s = h.attach();
    const created = await h.sync(s, {
      request: 'create', type: 'rtp', id: 3, secret: 'k', permanent: true,
      media: [{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }, { type: 'video', mid: 'v', port: 0, rtcpport: 0, pt: 100, codec: 'vp8' }],
    });
    const ports = (created.stream as { ports: Array<{ port: number; rtcp_port?: number }> }).ports;
    assert.equal(ports[0]!.rtcp_port, undefined, 'no rtcp_port for a stream without rtcpport (as Janus)');
    const rtcpPort = ports[1]!.rtcp_port!;
    assert.ok(rtcpPort > 0 && rtcpPort !== ports[1]!.port, `a bound RTCP port in the reply (${JSON.stringify(ports)})`);
    const info = (await h.sync(s, { request: 'info', id: 3, secret: 'k' })).info as { media: Array<{ rtcpport?: number }> };
    assert.equal(info.media[1]!.rtcpport, rtcpPort, 'info says the bound port, not 0');
    assert.match(readFileSync(h.doc.file, 'utf8'), new RegExp(`rtcpport = ${rtcpPort}`), 'permanent keeps the bound port, as the RTP ports');
    const legacy = await h.sync(s, { request: 'create', type: 'rtp', id: 4, video: true, videoport: 0, videortcpport: 0, videopt: 100, videocodec: 'vp8' });
    const ls = legacy.stream as { video_port: number; video_rtcp_port?: number };
    assert.ok(ls.video_rtcp_port! > 0 && ls.video_rtcp_port !== ls.video_port, `legacy reply has video_rtcp_port (${JSON.stringify(ls)})`);

    // the sender's RTCP (any packet) to the reported port: a new viewer's keyframe request comes back to it
    const plis: Buffer[] = [];
    sender.socket.on('message', (m) => plis.push(m));
    const sr = Buffer.alloc(28);
    sr[0] = 0x80;
    sr[1] = 200;
    sr.writeUInt16BE(6, 2);
    await sender.send(rtcpPort, sr);
    await new Promise((r) => setTimeout(r, 100));
    await h.viewer(3);
    await until(() => plis.length > 0, 3000, 'a PLI at the sender');
    assert.equal(plis[0]![1], 206, 'payload-specific feedback');
    assert.equal(plis[0]![0]! & 0x1f, 1, 'FMT 1: PLI');
  } finally {
    sender.close();
    await h.stop();
  }
});
