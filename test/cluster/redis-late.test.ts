/**
 * A cluster node started while its Redis is down: it serves its own (jcfg) rooms, refuses cluster
 * creates with 499, and joins the cluster by itself when Redis starts (real redis-server, real process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startClusterNode } from '../helpers/cluster-node.js';
import { post, type JsonObject } from '../helpers/janus-client.js';
import { startRedis } from '../helpers/redis-server.js';

test('Redis down at start: local rooms served, create refused; Redis up: the node registers and creates', async () => {
  const redis = await startRedis();
  await redis.stop();
  const n = await startClusterNode('late', { redisUrl: redis.url, prefix: 'late' });
  try {
    const req = (body: Record<string, unknown>) => n.api.req(n.handle, body);
    const refused = await req({ request: 'create', room: 77, admin_key: 'videoroom_key' });
    assert.equal(refused['error_code'], 499);
    assert.deepEqual(await req({ request: 'exists', room: 9999 }), { videoroom: 'success', room: 9999, exists: true });
    assert.match(n.srv.log(), /Redis unreachable at start/);
    await redis.restart();
    let info: JsonObject = {};
    for (let i = 0; i < 100; i++) {
      info = ((await post(n.srv.adminUrl, { janus: 'cluster_info', transaction: 'ci', admin_secret: n.srv.adminSecret })).json as JsonObject)['cluster'] as JsonObject;
      if (info['redis_up'] === true && (info['nodes'] as JsonObject[]).length === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(info['redis_up'], true);
    assert.deepEqual((info['nodes'] as JsonObject[]).map((x) => x['name']), ['late']);
    assert.equal((await req({ request: 'create', room: 77, admin_key: 'videoroom_key' }))['videoroom'], 'created');
  } finally {
    await n.stop();
    await redis.dispose();
  }
});
