/**
 * An in-memory JcfgDocument for plugins whose configuration file is absent (and for tests).
 * `save` is a no-op: there is no file to write back to until the config module provides one.
 */
import type { CfgValue } from '../config/types.js';
import type { JcfgDocument } from './plugin.js';

export function emptyJcfgDocument(file: string): JcfgDocument {
  const cats = new Map<string, Record<string, CfgValue>>();
  return {
    file,
    categoryNames: () => [...cats.keys()],
    category: (name) => cats.get(name),
    categoryLine: () => undefined,
    setCategory: (name, items) => void cats.set(name, items),
    removeCategory: (name) => cats.delete(name),
    save: async () => {},
  };
}
