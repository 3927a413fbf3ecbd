/**
 * A plugin's jcfg as one worker of the pool sees it: only the room categories placed on this worker
 * (and every non-room category, `general` first of all), so the jcfg's rooms are spread over the
 * workers at startup. Writes (`permanent` rooms) are applied locally and sent to the main thread,
 * which owns the file and applies every worker's changes to its one copy in order: two workers never
 * overwrite each other's rooms.
 */
import type { CfgValue } from '../config/types.js';
import type { JcfgDocument } from '../core/plugin.js';

/** "room-1234" and "room-abc" are rooms; anything else (general, ...) is not. */
export function isRoomCategory(name: string): boolean {
  return name.startsWith('room-');
}

export class ShardConfig implements JcfgDocument {
  private readonly keep: Set<string>;
  private set = new Map<string, Record<string, CfgValue>>();
  private removed = new Set<string>();

  constructor(
    private readonly doc: JcfgDocument,
    rooms: readonly string[],
    /** Hands the pending changes to main; resolves once the file is written. */
    private readonly send: (set: Array<[string, Record<string, CfgValue>]>, remove: string[]) => Promise<void>,
  ) {
    this.keep = new Set(rooms);
  }

  get file(): string {
    return this.doc.file;
  }

  categoryNames(): string[] {
    return this.doc.categoryNames().filter((n) => !isRoomCategory(n) || this.keep.has(n));
  }

  category(name: string): Record<string, CfgValue> | undefined {
    return !isRoomCategory(name) || this.keep.has(name) ? this.doc.category(name) : undefined;
  }

  categoryLine(name: string): number | undefined {
    return this.doc.categoryLine(name);
  }

  setCategory(name: string, items: Record<string, CfgValue>): void {
    this.keep.add(name);
    this.doc.setCategory(name, items);
    this.removed.delete(name);
    this.set.set(name, items);
  }

  removeCategory(name: string): boolean {
    const had = this.doc.removeCategory(name);
    this.keep.delete(name);
    this.set.delete(name);
    this.removed.add(name);
    return had;
  }

  async save(): Promise<void> {
    const set = [...this.set];
    const remove = [...this.removed];
    this.set = new Map();
    this.removed = new Set();
    await this.send(set, remove);
  }
}
