/**
 * Answers that need every node's part of a room (sans-IO merges; cluster.ts asks the other nodes over
 * the control channel): `listparticipants` lists the participants of every node, `list` counts them in
 * `num_participants`. Participants another node only relays (`remote: true`, remote publishers) are
 * left out of the others' answers: each is listed once, by the node it joined.
 */
type Data = Record<string, unknown>;

/** `listparticipants`: this node's answer plus the other nodes' own (non-remote) participants. */
export function mergeParticipants(local: Data, others: readonly Data[]): Data {
  if (local.error_code !== undefined || !Array.isArray(local.participants)) return local;
  const seen = new Set<unknown>((local.participants as Data[]).map((p) => p.id));
  const participants = [...(local.participants as Data[])];
  for (const o of others) {
    if (o.error_code !== undefined || !Array.isArray(o.participants)) continue;
    for (const p of o.participants as Data[]) {
      if (p.remote === true || seen.has(p.id)) continue;
      seen.add(p.id);
      participants.push(p);
    }
  }
  return { ...local, participants };
}

/**
 * `list`: each cluster room's `num_participants` summed over the nodes that answered (`shared` tells a
 * cluster room from a node's own jcfg room, whose namesakes elsewhere are other rooms).
 */
export function mergeListCounts(local: Data, others: readonly Data[], shared: (room: string) => boolean): Data {
  if (local.error_code !== undefined || !Array.isArray(local.list)) return local;
  const extra = new Map<string, number>();
  for (const o of others) {
    if (o.error_code !== undefined || !Array.isArray(o.list)) continue;
    for (const r of o.list as Data[]) {
      const n = r.num_participants;
      if (typeof n !== 'number') continue;
      const k = String(r.room);
      if (!shared(k)) continue;
      extra.set(k, (extra.get(k) ?? 0) + n);
    }
  }
  const list = (local.list as Data[]).map((r) => {
    const add = extra.get(String(r.room));
    return add !== undefined && typeof r.num_participants === 'number' ? { ...r, num_participants: r.num_participants + add } : r;
  });
  return { ...local, list };
}
