/**
 * Any node serves any room, in the browser: a real redis-server, three real Portunus cluster nodes, and
 * three Chromium pages of Janus's own videoroomtest.html, each connected to a different node, in one
 * cluster room. Each page publishes its fake camera and microphone and must see and hear the two others
 * (two subscriber PeerConnections with video frames decoded and audio energy growing, the others' names
 * in the remote slots): their publishers reach its node as remote publishers from the other two nodes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AUDIBLE_POWER, audioPowerBetween, closeAll, inboundTotal, launchBrowser, openDemo, waitForMedia, type BrowserHandle, type DemoPage, type PcReport } from '../helpers/browser.js';
import { startClusterNodes, type ClusterNode } from '../helpers/cluster-node.js';
import { sleep, startAndRegister, stopwatch } from '../helpers/demo-flows.js';
import { startRedis, type RedisServer } from '../helpers/redis-server.js';

const ROOM = 7100;
const isPublisher = (pc: PcReport) => pc.local === 'offer' && pc.connectionState !== 'closed';
const isSubscriber = (pc: PcReport) => pc.local === 'answer' && pc.connectionState !== 'closed';

let redis: RedisServer;
const nodes: ClusterNode[] = [];
let browser: BrowserHandle;

before(async () => {
  redis = await startRedis();
  nodes.push(...(await startClusterNodes(['br-a', 'br-b', 'br-c'].map((n) => [n, { redisUrl: redis.url, prefix: 'pbrw', heartbeatMs: 1000, ttlMs: 5000 }]))));
  browser = await launchBrowser();
});

after(async () => {
  if (process.env['CASCADE_DEBUG']) for (const n of nodes) console.log(`--- ${n.name}\n${n.srv.log().split('\n').filter((l) => /cluster|remote|error/i.test(l)).join('\n')}`);
  await browser?.close();
  for (const n of nodes) await n.stop().catch(() => undefined);
  await redis?.dispose();
});

async function remoteNames(dp: DemoPage): Promise<string[]> {
  const names = (await dp.page.evaluate(
    `[1, 2, 3, 4, 5].map((i) => { const e = document.getElementById('remote' + i); return e && e.offsetParent !== null ? e.textContent.trim() : ''; })`,
  )) as string[];
  return names.filter((n) => n !== '').sort();
}

test('three videoroomtest.html pages, each on another node of the cluster, see and hear each other', { timeout: 180_000 }, async () => {
  const [a] = nodes as [ClusterNode];
  const created = await a.api.req(a.handle, { request: 'create', room: ROOM, admin_key: 'videoroom_key', description: 'cluster demo', publishers: 6 });
  assert.equal(created['videoroom'], 'created');
  const names = ['alice', 'bob', 'carol'];
  const { mark, timings } = stopwatch();
  const pages: DemoPage[] = [];
  try {
    for (const [i, name] of names.entries()) pages.push(await openDemo(browser, { wsUrl: nodes[i]!.srv.wsUrl }, 'videoroomtest.html', { room: String(ROOM) }, `cluster-videoroom/${nodes[i]!.name}/${name}`));
    for (const [i, dp] of pages.entries()) {
      await startAndRegister(dp, 'janus.plugin.videoroom', names[i]!);
      await waitForMedia(dp, {}, 30_000, { select: (pcs) => pcs.filter(isPublisher), what: `${names[i]}'s publisher PeerConnection` });
      mark(`${names[i]} publishing`);
    }
    const subs: PcReport[][] = [];
    for (const dp of pages) subs.push(await waitForMedia(dp, { audio: true, video: true }, 40_000, { select: (pcs) => pcs.filter(isSubscriber), count: 2, what: 'video+audio from the two other nodes\' participants' }));
    mark('all subscriptions flowing');
    for (const [i, dp] of pages.entries()) {
      const others = names.filter((_, j) => j !== i).sort();
      const shown = await remoteNames(dp);
      if (JSON.stringify(shown) !== JSON.stringify(others)) assert.deepEqual(shown, others, `${names[i]} shows the others\n${await dp.diagnostics()}`);
    }
    // Video and audio keep flowing on every subscriber PeerConnection. Not a fixed 2.5 s window: at load
    // 15-20 the pages, nodes and Chromium are starved, video packets get lost at the client and its
    // decoder waits for the keyframe its PLI asks for (relayed to the origin node, at most once a
    // second): frames must grow within a generous deadline.
    const growDeadline = Date.now() + 30_000;
    for (const [i, dp] of pages.entries()) {
      for (const before of subs[i]!) {
        const f0 = inboundTotal([before], 'video', 'framesDecoded');
        for (;;) {
          await sleep(1000);
          const after = (await dp.peerConnections()).filter((p) => p.index === before.index);
          const f1 = inboundTotal(after, 'video', 'framesDecoded');
          const power = audioPowerBetween([before], after);
          if (f1 > f0 + 5 && power >= AUDIBLE_POWER) break;
          if (Date.now() < growDeadline) continue;
          if (!(f1 > f0 + 5)) assert.fail(`${names[i]} pc#${before.index}: decoded frames must grow (${f0} -> ${f1} in 30 s)\n${await dp.diagnostics()}`);
          assert.fail(`${names[i]} pc#${before.index}: audio power ${power} < ${AUDIBLE_POWER}\n${await dp.diagnostics()}`);
        }
      }
    }
    mark('growth checked');
    assert.deepEqual(browser.blocked, [], 'the pages must not request anything outside this machine');
  } finally {
    await closeAll(pages);
  }
  console.log(`# cluster videoroom timings (ms): ${JSON.stringify(timings)}`);
});
