/**
 * A VideoRoom remote publisher inside the media worker pool, in-process: Gateway -> RoutingMediaPlane
 * -> WorkerPool (2 worker threads). `add_remote_publisher` goes to the room's worker, which opens the
 * UDP ports; plain RTP sent to them (as an origin's publish_remotely does) reaches a subscriber placed
 * on the other worker (through the mirror and the ring); that subscriber's PLI travels back to the
 * room's worker and out of the remote publisher's RTCP port to the latched origin;
 * `remove_remote_publisher` gives the remote subscriber an `updated` offer without the stream.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { SOCKET_BUFFER_BYTES } from '../../src/media/net/socket-buffers.js';
import { makeClient, rtpPacket, sleep, waitFor, type ClientPeer } from '../media/peer/helpers.js';
import { answerOffer, makeVideoRoomWorld, ROOM, type Ev } from './videoroom-world.js';

/** VP8 payload (S=1, key or delta frame tag), then a counter at byte 100 so the receiver can check order. */
function vp8(key: boolean, counter: number): Buffer {
  const b = Buffer.alloc(200, 0x55);
  b[0] = 0x10;
  b[1] = key ? 0x10 : 0x11;
  b[2] = 0x02;
  b[3] = 0x00;
  b[4] = 0x9d;
  b[5] = 0x01;
  b[6] = 0x2a;
  b.writeUInt32BE(counter, 100);
  return b;
}

test('VideoRoom remote publisher in a worker: its media reaches a subscriber on the other worker, whose PLI goes back out of the RTCP port', { timeout: 120_000 }, async () => {
  const w = await makeVideoRoomWorld('vr-remote-');
  const clients: ClientPeer[] = [];
  const origin = createSocket('udp4');
  await new Promise<void>((r) => origin.bind(0, '127.0.0.1', () => r()));
  const plis: Buffer[] = [];
  origin.on('message', (m) => plis.push(m));
  let sending = false;
  try {
    const rw = w.vr.rooms.get(String(ROOM))!;
    const other = w.pool.workers.find((x) => x !== rw)!;
    const admin = await w.attach();
    const add = await w.message(admin.session, admin.handle, {
      request: 'add_remote_publisher', room: ROOM, id: 9001, display: 'far',
      streams: [{ type: 'audio', mindex: 0, mid: '0', codec: 'opus' }, { type: 'video', mindex: 1, mid: '1', codec: 'vp8' }],
    });
    const d = add.plugindata?.data as Record<string, unknown>;
    assert.equal(d['videoroom'], 'success', JSON.stringify(add));
    const port = d['port'] as number;
    const rtcpPort = d['rtcp_port'] as number;
    // Its sockets ask for the media sockets' receive buffer (the kernel doubles what it grants, up to rmem_max).
    const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
    const rmemDefault = Number(readFileSync('/proc/sys/net/core/rmem_default', 'utf8'));
    if (rmemMax > rmemDefault) {
      for (const p of [port, rtcpPort]) {
        const ss = execFileSync('ss', ['-uanmH', `sport = :${p}`], { encoding: 'utf8' });
        const rb = Number(/\brb(\d+)/.exec(ss)?.[1]);
        assert.equal(rb, 2 * Math.min(SOCKET_BUFFER_BYTES, rmemMax), `receive buffer of ${p}: ${ss}`);
      }
    }
    // Their ports reach main with the worker's plugin metrics, for portunus_udp_receive_drops.
    await waitFor('the feed ports in the plugin metrics', () => [port, rtcpPort].every((p) => w.vr.metrics().udpPorts?.includes(p) === true), 8000);
    // The origin latches on the RTCP port, as a publish_remotely forwarder does.
    origin.send(Buffer.from([0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), rtcpPort, '127.0.0.1');

    const c = await makeClient();
    clients.push(c);
    const h = await w.attach();
    w.vr.subscriberPlacement = () => other;
    const att = await w.message(h.session, h.handle, { request: 'join', ptype: 'subscriber', room: ROOM, streams: [{ feed: 9001, mid: '1' }] });
    w.vr.subscriberPlacement = null;
    assert.equal(att.plugindata?.data['videoroom'], 'attached', JSON.stringify(att));
    const started = await w.message(h.session, h.handle, { request: 'start' }, { type: 'answer', sdp: answerOffer(c, att.jsep!.sdp) });
    assert.equal(started.plugindata?.data['started'], 'ok', JSON.stringify(started));
    await waitFor('subscriber DTLS up', () => c.up, 8000);
    assert.equal(await w.workerOf(h.session, h.handle), other.index, 'the subscriber sits on the other worker');

    sending = true;
    let n = 0;
    const pump = (async () => {
      while (sending) {
        origin.send(rtpPacket(96, 500 + n, n * 3000, 1010, vp8(n % 50 === 0, n)), port, '127.0.0.1');
        n++;
        await sleep(10);
      }
    })();
    await waitFor('video from the remote publisher at the subscriber on the other worker', () => c.rtp.filter((p) => p.stream.kind === 'video').length >= 40, 15_000);
    const video = c.rtp.filter((p) => p.stream.kind === 'video').map((p) => p.bytes);
    const counter = (b: Buffer): number => b.readUInt32BE(b.length - 200 + 100);
    for (let k = 1; k < video.length; k++) {
      assert.equal((video[k - 1]!.readUInt16BE(2) + 1) & 0xffff, video[k]!.readUInt16BE(2), `sequence gap at ${k}`);
      assert.equal(counter(video[k - 1]!) + 1, counter(video[k]!), `payload out of order at ${k}`);
    }

    // The subscriber's PLI (written by hand, as a browser sends it) crosses back to the room's worker and out to the origin.
    await sleep(1200);
    plis.length = 0;
    const mediaSsrc = video.at(-1)!.readUInt32BE(8);
    const pli = Buffer.alloc(12);
    pli[0] = 0x81;
    pli[1] = 206;
    pli.writeUInt16BE(2, 2);
    pli.writeUInt32BE(0x5eed, 4);
    pli.writeUInt32BE(mediaSsrc, 8);
    (c.peer as unknown as { sendRtcpCompound(b: Buffer, n: number): void }).sendRtcpCompound(pli, 12);
    const got = await waitFor('a PLI at the origin', () => plis.find((p) => p.length === 12 && p[1] === 206), 8000);
    assert.equal(got.readUInt32BE(8), 1010, 'for the video stream\'s SSRC');

    // Removing the remote publisher: the remote subscriber gets an updated offer without the stream.
    sending = false;
    await pump;
    const from = w.client.events.length;
    const rm = await w.message(admin.session, admin.handle, { request: 'remove_remote_publisher', room: ROOM, id: 9001 });
    assert.equal(rm.plugindata?.data['videoroom'], 'success', JSON.stringify(rm));
    const upd = await waitFor('updated for the remote subscriber', () => (w.client.events.slice(from) as Ev[]).find((e) => (e as { sender?: number }).sender === h.handle && e.plugindata?.data['videoroom'] === 'updated'), 8000);
    assert.ok((upd.plugindata?.data['streams'] as Array<{ active: boolean }>).every((x) => x.active === false), JSON.stringify(upd.plugindata?.data));
  } finally {
    sending = false;
    origin.close();
    for (const c of clients) c.close();
    await w.gw.stop();
    rmSync(w.dir, { recursive: true, force: true });
  }
  await waitFor('the worker threads ended', () => w.pool.workers.every((x) => x.exited), 3000);
});
