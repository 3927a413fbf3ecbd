/**
 * Rooms, participants and mixer figures per plugin, for /metrics.
 *
 * A plugin that implements `metrics()` (core/plugin.ts) is read directly. Otherwise its Admin API
 * `list` request is asked (the same answer `message_plugin` gives): rooms are the list's length and
 * participants the sum of `num_participants`. That fallback cannot see private rooms and knows no
 * mixer lag; the report says so per plugin (`source` label of portunus_plugin_metrics_source).
 */
import type { Plugin, PluginMetrics } from '../core/plugin.js';

export interface PluginReading extends PluginMetrics {
  plugin: string;
  /** Where the numbers come from: the plugin's own metrics(), its Admin `list`, or nothing (no rooms). */
  source: 'metrics' | 'admin_list' | 'none';
}

/** The first array in a `list` answer (`list` for VideoRoom/AudioBridge/TextRoom, `rooms` elsewhere). */
function roomsOf(answer: Record<string, unknown>): unknown[] | null {
  if (Array.isArray(answer.list)) return answer.list;
  if (Array.isArray(answer.rooms)) return answer.rooms;
  return null;
}

export async function readPlugin(p: Plugin): Promise<PluginReading> {
  if (typeof p.metrics === 'function') {
    try {
      return { plugin: p.package, source: 'metrics', ...p.metrics() };
    } catch {
      /* fall through to the Admin list */
    }
  }
  if (typeof p.handleAdminMessage === 'function') {
    try {
      const answer = await p.handleAdminMessage({ request: 'list' });
      const rooms = roomsOf(answer);
      if (rooms !== null) {
        let participants = 0;
        for (const r of rooms) {
          const n = (r as { num_participants?: unknown } | null)?.num_participants;
          if (typeof n === 'number' && Number.isFinite(n)) participants += n;
        }
        return { plugin: p.package, source: 'admin_list', rooms: rooms.length, participants };
      }
    } catch {
      /* no rooms to report */
    }
  }
  return { plugin: p.package, source: 'none', rooms: 0, participants: 0 };
}
