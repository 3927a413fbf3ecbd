/** Minimal typings for the parts of janode (no bundled types) the e2e tests use. */
declare module 'janode' {
  import type { EventEmitter } from 'node:events';
  export interface JanodeHandle extends EventEmitter {
    readonly id: number;
    detach(): Promise<void>;
  }
  export interface JanodeSession extends EventEmitter {
    readonly id: number;
    attach<T extends JanodeHandle = JanodeHandle>(descriptor: unknown): Promise<T>;
    destroy(): Promise<void>;
  }
  export interface JanodeConnection extends EventEmitter {
    create(ka_interval?: number): Promise<JanodeSession>;
    close(): Promise<void>;
  }
  const Janode: {
    connect(config: { is_admin?: boolean; address: { url: string; apisecret?: string } | { url: string }[]; retry_time_secs?: number; max_retries?: number }): Promise<JanodeConnection>;
    EVENT: Record<string, string>;
    Logger: { setLevel(level: string): void };
  };
  export default Janode;
}
declare module 'janode/plugins/videoroom' {
  import type { JanodeHandle } from 'janode';
  export interface VideoRoomHandle extends JanodeHandle {
    create(params: Record<string, unknown>): Promise<{ room: number | string; permanent?: boolean }>;
    list(params?: { admin_key?: string }): Promise<{ list: { room: number | string; description?: string }[] }>;
    exists(params: { room: number | string }): Promise<{ room: number | string; exists: boolean }>;
    destroy(params: { room: number | string; secret?: string; permanent?: boolean }): Promise<{ room: number | string }>;
  }
  const VideoRoomPlugin: { id: string; Handle: unknown; EVENT: Record<string, string> };
  export default VideoRoomPlugin;
}
