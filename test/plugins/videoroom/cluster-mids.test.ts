/**
 * The mids of a publisher carried to another node of a cluster (cluster-link.ts): the remote publisher
 * the cluster attaches there keeps the publisher's own mids, so a subscriber names its streams the same
 * way on every node; a gap in the publisher's m-lines gets a stub whose mid is none of the publisher's.
 * The API's `add_remote_publisher` keeps Janus 1.1.2's naming (mid = the stream's place, whatever `mid`
 * says; pinned against Janus itself by differential-remote.test.ts, step add-ok-disabled-codec).
 * Two in-process VideoRoom instances stand for two nodes; the cluster layer's requests are sent as it
 * sends them (Admin API).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, SEED_VIDEOROOM_JCFG } from './harness.js';
import { CHROME_OFFER } from './fixtures.js';
import { publisherStreams } from '../../../src/plugins/videoroom/cluster-link.js';
import type { Participant } from '../../../src/plugins/videoroom/participant.js';
import { PublishedStream } from '../../../src/plugins/videoroom/streams.js';

type Data = Record<string, unknown>;
const ROOM = '6161';

/** The Chrome offer with its two m-lines named `a` and `v` (what some clients and older SDKs use). */
const OFFER = CHROME_OFFER.replace('a=group:BUNDLE 0 1', 'a=group:BUNDLE a v').replace('a=mid:0\n', 'a=mid:a\n').replace('a=mid:1\n', 'a=mid:v\n');

const mids = (streams: unknown): string[] => (streams as Data[]).map((s) => String(s.mid));

async function node(): Promise<Harness> {
  const h = await Harness.start(SEED_VIDEOROOM_JCFG);
  const s = h.attach();
  const created = await h.sync(s, { request: 'create', room: ROOM, admin_key: 'videoroom_key' });
  assert.equal(created.videoroom, 'created', JSON.stringify(created));
  return h;
}

/** What a newcomer on `h` is told about the room's publishers (the `joined` reply). */
async function publishersSeen(h: Harness): Promise<Data[]> {
  const joined = await h.async(h.attach(), { request: 'join', ptype: 'publisher', room: ROOM, display: 'newcomer' });
  return joined.publishers as Data[];
}

test('a publisher with its own mids (a, v): the remote publisher the cluster attaches on another node has the same mids', async () => {
  assert.notEqual(OFFER, CHROME_OFFER);
  const a = await node();
  const pub = a.attach();
  await a.async(pub, { request: 'join', ptype: 'publisher', room: ROOM, display: 'speaker', id: 'speaker' });
  const conf = await a.asyncFull(pub, { request: 'publish' }, { type: 'offer', sdp: OFFER });
  assert.ok(conf.jsep, 'publish answered');
  a.plugin.setupMedia(pub);
  assert.deepEqual(mids((await publishersSeen(a))[0]!.streams), ['a', 'v'], 'on its own node');

  const st = await a.plugin.handleAdminMessage!({ request: 'portunus_cluster_state', room: ROOM });
  const entry = (st.publishers as Data[]).find((p) => p.id === 'speaker')!;
  assert.deepEqual(mids(entry.streams), ['a', 'v'], 'the state the cluster reads carries the mids');

  const b = await node();
  const att = await b.plugin.handleAdminMessage!({ request: 'portunus_cluster_attach', room: ROOM, id: 'speaker', display: 'speaker', streams: entry.streams });
  assert.equal(att.videoroom, 'success', JSON.stringify(att));
  const seen = (await publishersSeen(b)).find((p) => p.id === 'speaker')!;
  assert.deepEqual(mids(seen.streams), ['a', 'v'], 'the same mids on the other node');
  assert.deepEqual((seen.streams as Data[]).map((s) => s.mindex), [0, 1]);
  for (const h of [a, b]) await h.plugin.destroy();
});

test('stubs for m-lines a publisher does not relay never take one of its mids; the API keeps Janus\'s mid = place', async () => {
  const b = await node();
  // A publisher whose m-line 1 is not relayed and whose m-line 2 is named "1".
  const owner = {} as Participant;
  const audio = new PublishedStream(owner, 'audio', 0, '0');
  audio.codec = 'opus';
  const video = new PublishedStream(owner, 'video', 2, '1');
  video.codec = 'vp8';
  const streams = publisherStreams([audio, video]);
  assert.deepEqual(streams.map((s) => [s.type, s.mindex, s.mid]), [['audio', 0, '0'], ['data', 1, '1~'], ['video', 2, '1']]);
  const att = await b.plugin.handleAdminMessage!({ request: 'portunus_cluster_attach', room: ROOM, id: 'p', streams });
  assert.equal(att.videoroom, 'success', JSON.stringify(att));
  const seen = (await publishersSeen(b)).find((p) => p.id === 'p')!;
  assert.deepEqual(mids(seen.streams), ['0', '1~', '1']);

  // add_remote_publisher from the API: the streams are named by their place, as Janus 1.1.2 does.
  const add = await b.plugin.handleAdminMessage!({ request: 'add_remote_publisher', room: ROOM, id: 'far', streams: [{ type: 'video', mindex: 0, mid: 'v', codec: 'vp8' }, { type: 'audio', mindex: 1, mid: 'a', codec: 'opus' }] });
  assert.equal(add.videoroom, 'success', JSON.stringify(add));
  const far = (await publishersSeen(b)).find((p) => p.id === 'far')!;
  assert.deepEqual(mids(far.streams), ['0', '1']);
  await b.plugin.destroy();
});
