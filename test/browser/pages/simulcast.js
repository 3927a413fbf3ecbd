// A minimal VideoRoom client on janus.js for the simulcast test (our own page, not a Janus demo):
// one publisher handle sending the fake camera as three rid-based simulcast layers, one subscriber
// handle receiving that feed, both in this page's single Janus session. The test drives it through
// window.harness (page.evaluate) and reads getStats() of both PeerConnections.
// ?server=<Janus API URL>. Optional ?startBitrate=<kbps>: x-google-start/min-bitrate added to the
// VP8 fmtp of the gateway's answer, so Chrome's bandwidth estimate starts high enough for every
// layer at once instead of ramping up from 300 kbps for tens of seconds (the gateway is local).
(function () {
  'use strict';
  const params = new URLSearchParams(location.search);
  const server = params.get('server');
  const startKbps = Number(params.get('startBitrate') || 0);
  const log = [];
  const note = (s) => { log.push(`${Date.now()} ${s}`); console.log(`[simulcast page] ${s}`); };

  if (startKbps > 0) {
    const extra = `x-google-start-bitrate=${startKbps};x-google-min-bitrate=${Math.round(startKbps / 2)}`;
    const munge = (sdp) => {
      const lines = sdp.split('\r\n');
      const vp8 = new Set();
      for (const l of lines) { const m = /^a=rtpmap:(\d+) VP8\/90000/i.exec(l); if (m) vp8.add(m[1]); }
      const withFmtp = new Set();
      const out = lines.map((l) => { const m = /^a=fmtp:(\d+) /.exec(l); if (m && vp8.has(m[1])) { withFmtp.add(m[1]); return `${l};${extra}`; } return l; });
      return out.flatMap((l) => { const m = /^a=rtpmap:(\d+) VP8\/90000/i.exec(l); return m && !withFmtp.has(m[1]) ? [l, `a=fmtp:${m[1]} ${extra}`] : [l]; }).join('\r\n');
    };
    // Only answers (the gateway's answer to our publisher offer); the subscriber's remote SDP is an offer.
    const orig = RTCPeerConnection.prototype.setRemoteDescription;
    RTCPeerConnection.prototype.setRemoteDescription = function (desc) {
      if (desc && desc.type === 'answer' && typeof desc.sdp === 'string') desc = { type: 'answer', sdp: munge(desc.sdp) };
      return orig.call(this, desc);
    };
  }

  let janus = null, pub = null, sub = null, pubId = null, subMid = null;
  const subEvents = [];
  const pubEvents = [];
  const waiters = [];
  const fire = () => { for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i].test()) { waiters[i].resolve(); waiters.splice(i, 1); } };
  const until = (what, test, ms) => new Promise((resolve, reject) => {
    if (test()) return resolve();
    const w = { test, resolve: () => { clearTimeout(t); resolve(); } };
    const t = setTimeout(() => { const i = waiters.indexOf(w); if (i >= 0) waiters.splice(i, 1); reject(new Error(`${what}: timed out after ${ms} ms; log: ${log.slice(-8).join(' | ')}`)); }, ms);
    waiters.push(w);
  });
  let pubUp = false, subUp = false;

  function connect() {
    return new Promise((resolve, reject) => {
      Janus.init({ debug: ['warn', 'error'], callback: () => {
        janus = new Janus({ server, iceServers: [], success: resolve, error: (e) => { note(`session error ${e}`); reject(new Error(String(e))); } });
      } });
    });
  }

  function attach(callbacks) {
    return new Promise((resolve, reject) => {
      janus.attach(Object.assign({ plugin: 'janus.plugin.videoroom', success: resolve, error: (e) => reject(new Error(String(e))) }, callbacks));
    });
  }

  /** Join `room` as a publisher and publish the fake camera (width x height) as simulcast h/m/l. */
  async function publish(room, opts) {
    await connect();
    pub = await attach({
      onmessage: (msg, jsep) => {
        pubEvents.push(msg);
        note(`publisher event ${JSON.stringify(msg)}`);
        if (msg.videoroom === 'joined') {
          pubId = msg.id;
          pub.createOffer({
            tracks: [{
              type: 'video', recv: false, simulcast: true,
              capture: { width: { exact: opts.width }, height: { exact: opts.height }, frameRate: { ideal: opts.fps } },
              sendEncodings: opts.encodings,
            }],
            success: (offer) => pub.send({ message: { request: 'publish', videocodec: 'vp8' }, jsep: offer }),
            error: (e) => note(`createOffer error ${JSON.stringify(e)}`),
          });
        }
        if (jsep) pub.handleRemoteJsep({ jsep });
        fire();
      },
      webrtcState: (on) => { pubUp = on; note(`publisher webrtc ${on ? 'up' : 'down'}`); fire(); },
    });
    pub.send({ message: { request: 'join', ptype: 'publisher', room, display: 'simulcaster' } });
    await until('publisher webrtcup', () => pubUp, 20000);
    // Keep every layer's resolution (no CPU/bandwidth downscaling within a layer) so sizes identify layers.
    const sender = pub.webrtcStuff.pc.getSenders().find((s) => s.track && s.track.kind === 'video');
    const p = sender.getParameters();
    p.degradationPreference = 'maintain-resolution';
    await sender.setParameters(p).catch((e) => note(`setParameters: ${e}`));
    return pubId;
  }

  /** Subscribe to `feed` (all its streams) with an initial substream target. */
  async function subscribe(room, feed, substream) {
    if (janus === null) await connect(); // a subscriber-only page
    sub = await attach({
      onmessage: (msg, jsep) => {
        subEvents.push(msg);
        note(`subscriber event ${JSON.stringify(msg)}`);
        if (msg.videoroom === 'attached') subMid = (msg.streams.find((s) => s.type === 'video') || {}).mid;
        if (jsep) {
          sub.createAnswer({
            jsep, tracks: [{ type: 'data' }],
            success: (answer) => sub.send({ message: { request: 'start', room }, jsep: answer }),
            error: (e) => note(`createAnswer error ${JSON.stringify(e)}`),
          });
        }
        fire();
      },
      onremotetrack: (track, mid, on) => {
        note(`remote track ${track.kind} mid=${mid} ${on ? 'added' : 'removed'}`);
        if (on && track.kind === 'video') {
          const v = document.getElementById('remote');
          v.srcObject = new MediaStream([track]);
          v.play().catch(() => undefined);
        }
      },
      webrtcState: (on) => { subUp = on; note(`subscriber webrtc ${on ? 'up' : 'down'}`); fire(); },
    });
    sub.send({ message: { request: 'join', ptype: 'subscriber', room, streams: [{ feed, substream }] } });
    await until('subscriber webrtcup', () => subUp, 20000);
    return subMid;
  }

  /** `configure` the subscriber's video m-line to a substream; resolves on "configured": "ok". */
  async function configure(substream) {
    const n = subEvents.length;
    sub.send({ message: { request: 'configure', mid: subMid, substream } });
    await until(`configured (substream ${substream})`, () => subEvents.slice(n).some((e) => e.configured === 'ok' || e.error), 10000);
    const err = subEvents.slice(n).find((e) => e.error);
    if (err) throw new Error(`configure: ${JSON.stringify(err)}`);
  }

  async function stats() {
    const out = { outbound: [], inbound: null, remoteVideo: null };
    if (pub && pub.webrtcStuff.pc) {
      (await pub.webrtcStuff.pc.getStats()).forEach((s) => {
        if (s.type === 'outbound-rtp' && s.kind === 'video') {
          out.outbound.push({ rid: s.rid || null, ssrc: s.ssrc, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0, packetsSent: s.packetsSent || 0, framesEncoded: s.framesEncoded || 0, qualityLimitationReason: s.qualityLimitationReason || null, active: s.active !== false });
        }
      });
    }
    if (sub && sub.webrtcStuff.pc) {
      (await sub.webrtcStuff.pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'video') {
          out.inbound = { mid: s.mid, frameWidth: s.frameWidth || 0, frameHeight: s.frameHeight || 0, framesDecoded: s.framesDecoded || 0, packetsReceived: s.packetsReceived || 0, packetsLost: s.packetsLost || 0, keyFramesDecoded: s.keyFramesDecoded || 0, bytesReceived: s.bytesReceived || 0, framesDropped: s.framesDropped || 0, freezeCount: s.freezeCount || 0, totalFreezesDuration: s.totalFreezesDuration || 0 };
        }
      });
    }
    const v = document.getElementById('remote');
    out.remoteVideo = { width: v.videoWidth, height: v.videoHeight, time: v.currentTime, paused: v.paused };
    return out;
  }

  const ids = () => ({ session: janus && janus.getSessionId(), pub: pub && pub.getId(), sub: sub && sub.getId() });
  window.harness = { publish, subscribe, configure, stats, ids, log, subEvents, pubEvents };
})();
