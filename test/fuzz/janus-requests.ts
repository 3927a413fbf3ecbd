/**
 * Janus API request generators shared by the in-process API fuzz (api.test.ts) and the end-to-end
 * server fuzz (test/e2e/fuzz-server.test.ts): odd values, per-plugin request bodies, JSEP offers
 * with mutated SDP, trickles with odd candidates.
 */
import { fc, mutatedLines, mutatedText } from './harness.js';
import { CHROME_OFFER, FIREFOX_OFFER } from '../media/sdp/fixtures.js';

export const PLUGINS = ['janus.plugin.echotest', 'janus.plugin.videoroom', 'janus.plugin.audiobridge', 'janus.plugin.textroom', 'janus.plugin.streaming'];

export const oddInt = fc.oneof(fc.constantFrom(0, 1, -1, 1234, 2 ** 31, 2 ** 53, -(2 ** 53), 1.5, 1e308, Number.MAX_SAFE_INTEGER), fc.integer());
export const oddString = fc.oneof(fc.constantFrom('', ' ', '1234', 'abc', '\u0000', '\u{1F600}', 'x'.repeat(300), '<script>', '../../etc/passwd', '%s%n'), fc.string({ maxLength: 20 }));
export const leaf = fc.oneof(oddInt, oddString, fc.boolean(), fc.constant(null), fc.constantFrom([], {}, [1, 'a'], { a: 1 }));
/**
 * Forwarding targets: loopback (or names that resolve without the network) only. The fuzz must never
 * make the gateway send RTP to, or ask DNS about, anything else ("1.2.3" would be 1.2.0.3).
 */
export const safeHost = fc.constantFrom('127.0.0.1', '::1', '0.0.0.0', '', 'localhost');

/** Per-plugin request names and the body keys those requests read. */
const REQUESTS: Record<string, { requests: string[]; keys: string[] }> = {
  'janus.plugin.videoroom': {
    requests: ['create', 'edit', 'destroy', 'list', 'exists', 'allowed', 'kick', 'moderate', 'enable_recording', 'listparticipants', 'listforwarders', 'rtp_forward', 'stop_rtp_forward',
      'join', 'joinandconfigure', 'configure', 'publish', 'unpublish', 'start', 'pause', 'switch', 'update', 'subscribe', 'unsubscribe', 'leave', 'bogus'],
    keys: ['room', 'ptype', 'feed', 'id', 'display', 'secret', 'pin', 'admin_key', 'publishers', 'bitrate', 'fir_freq', 'audiocodec', 'videocodec', 'streams', 'descriptions', 'audio', 'video', 'data',
      'mid', 'keyframe', 'simulcast', 'substream', 'temporal', 'allowed', 'action', 'enabled', 'stream_id', 'streams', 'private_id', 'new_room', 'require_pvtid', 'string_ids', 'is_private', 'permanent',
      'host', 'host_family', 'port', 'ssrc', 'pt', 'description', 'list', 'mute', 'feeds', 'send', 'offer_audio', 'offer_video', 'restart'],
  },
  'janus.plugin.audiobridge': {
    requests: ['create', 'edit', 'destroy', 'list', 'exists', 'allowed', 'kick', 'kick_all', 'listparticipants', 'listforwarders', 'rtp_forward', 'stop_rtp_forward', 'join', 'configure',
      'changeroom', 'leave', 'mute', 'unmute', 'mute_room', 'unmute_room', 'play_file', 'is_playing', 'stop_file', 'stop_all_files', 'listannouncements', 'resetdecoder', 'suspend', 'resume', 'bogus'],
    keys: ['room', 'id', 'display', 'secret', 'pin', 'admin_key', 'sampling_rate', 'audiolevel_ext', 'audiolevel_event', 'muted', 'quality', 'volume', 'spatial_position', 'codec', 'rtp', 'prebuffer',
      'expected_loss', 'file_id', 'filename', 'loop', 'group', 'groups', 'record', 'allowed', 'action', 'permanent', 'host', 'port', 'ssrc', 'ptype', 'stream_id', 'generate_offer', 'token'],
  },
  'janus.plugin.textroom': {
    requests: ['create', 'edit', 'destroy', 'list', 'exists', 'allowed', 'kick', 'listparticipants', 'announcement', 'setup', 'ack', 'restart', 'join', 'leave', 'message', 'bogus'],
    keys: ['room', 'secret', 'pin', 'admin_key', 'username', 'display', 'text', 'to', 'tos', 'ack', 'history', 'post', 'is_private', 'permanent', 'allowed', 'action', 'transaction', 'textroom'],
  },
  // no `url`: an rtsp mountpoint would connect somewhere
  'janus.plugin.streaming': {
    requests: ['create', 'edit', 'destroy', 'list', 'info', 'enable', 'disable', 'kick_all', 'recording', 'watch', 'start', 'pause', 'stop', 'configure', 'switch', 'bogus'],
    keys: ['type', 'id', 'name', 'description', 'secret', 'pin', 'admin_key', 'is_private', 'permanent', 'media', 'audio', 'video', 'data', 'audioport', 'audiopt', 'audiocodec', 'videoport',
      'videopt', 'videocodec', 'filename', 'action', 'mid', 'send', 'substream', 'temporal', 'new_description', 'new_pin', 'new_secret', 'offer_audio', 'collision', 'stop_recording'],
  },
  'janus.plugin.echotest': {
    requests: ['', 'bogus'],
    keys: ['audio', 'video', 'data', 'bitrate', 'record', 'filename', 'substream', 'temporal', 'fallback', 'audiocodec', 'videocodec', 'videoprofile', 'opusred', 'min_delay', 'max_delay'],
  },
};

export function valueFor(key: string): fc.Arbitrary<unknown> {
  if (key === 'host') return safeHost;
  // Recording paths: only inside the test's temporary folder (the process cwd, see below).
  if (key === 'filename' || key === 'rec_dir') return fc.constantFrom('rec-a', 'sub/rec-b', '../../etc/passwd', '/nonexistent/dir/file', '');
  if (key === 'record') return fc.constant(false);
  if (key === 'room' || key === 'id' || key === 'feed') return fc.oneof(fc.constantFrom(1234, 1, '1234', 'room-x', 0, -1), leaf);
  if (key === 'admin_key') return fc.constantFrom('supersecret', '', 'x');
  if (key === 'type') return fc.constantFrom('rtp', 'live', 'ondemand', 'rtsp', 'x');
  if (key === 'media') return fc.oneof(leaf, fc.constant([{ type: 'audio', mid: 'a', port: 0, pt: 111, codec: 'opus' }]), fc.array(fc.record({ type: fc.constantFrom('audio', 'video', 'data', 'x'), mid: oddString, port: fc.constantFrom(0, 70000, -1, 'x'), pt: oddInt, codec: fc.constantFrom('opus', 'vp8', 'mp3') }), { maxLength: 3 }));
  return leaf;
}

export function body(plugin: string): fc.Arbitrary<Record<string, unknown>> {
  const spec = REQUESTS[plugin]!;
  return fc
    .tuple(fc.constantFrom(...spec.requests), fc.uniqueArray(fc.constantFrom(...spec.keys), { maxLength: 6 }).chain((keys) => fc.tuple(...keys.map((k) => valueFor(k).map((v) => [k, v] as const)))))
    .map(([request, kv]) => Object.fromEntries([...(request ? [['request', request]] : []), ...kv]));
}

export const sdpText = fc.oneof(fc.constantFrom(CHROME_OFFER, FIREFOX_OFFER), mutatedLines(fc.constantFrom(CHROME_OFFER, FIREFOX_OFFER)), mutatedText(fc.constantFrom(CHROME_OFFER), 3), fc.constantFrom('', 'v=0', 'x'));
export const jsep = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constantFrom('offer', 'offer', 'answer', 'pranswer', ''), sdp: sdpText, trickle: fc.boolean() }) },
  { weight: 1, arbitrary: fc.oneof(leaf, fc.record({ type: leaf, sdp: leaf })) },
);

export const oddCandidate = fc
  .tuple(fc.constantFrom('1', '2', '0'), fc.constantFrom('udp', 'tcp'), fc.constantFrom('127.0.0.1', '0.0.0.0', '255.255.255.255', '::', '::1', 'localhost', 'abc.local', 'example.invalid', '1.2.3'),
    fc.constantFrom('0', '1', '65535', '65536', '-1', '9'), fc.constantFrom('host', 'srflx', 'relay'))
  .map(([c, t, a, p, typ]) => `candidate:1 ${c} ${t} 2122260223 ${a} ${p} typ ${typ}`);
export const candidateObj = fc.oneof(
  fc.record({ candidate: oddCandidate, sdpMid: fc.constantFrom('0', '1', 'x', ''), sdpMLineIndex: fc.constantFrom(0, 1, -1, 99, 1.5) }),
  fc.record({ completed: fc.oneof(fc.constant(true), leaf) }),
  fc.record({ candidate: leaf }),
  leaf,
);

