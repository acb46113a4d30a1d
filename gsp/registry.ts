/**
 * SET_REGISTRY: the registry keys GSP-RM reads at init, sent once right
 * after GSP_SET_SYSTEM_INFO. It has no reply.
 *
 * Payload: `PACKED_REGISTRY_TABLE` {u32 size, u32 numEntries} then
 * `numEntries` × `PACKED_REGISTRY_ENTRY` {u32 nameOffset (from the table's
 * start), u8 type, 3 pad, u32 data, u32 length}, then the NUL-terminated
 * names (NVIDIA 570.144 `g_os_nvoc.h`, pinned by `gsp_abi_check.c`). `size`
 * counts the whole table. DWORD entries (`REGISTRY_TABLE_ENTRY_TYPE_DWORD`
 * = 1) carry their value in `data` and `length` = 4, as NVIDIA's
 * `osPackageRegistry` writes them (reference §5.3 correction: nova-core
 * writes 0).
 *
 * The default keys are nova-core's: `RMSecBusResetEnable`,
 * `RMForcePcieConfigSave` and `RMDevidCheckIgnore`, all 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePackedRegistry, DEFAULT_REGISTRY, encodePackedRegistry } from "./registry.ts";
 * const table = encodePackedRegistry(DEFAULT_REGISTRY);
 * const view = new DataView(table.buffer);
 * assert.equal(view.getUint32(0, true), table.length);
 * assert.equal(view.getUint32(4, true), 3);
 * assert.deepEqual(decodePackedRegistry(table), DEFAULT_REGISTRY);
 * ```
 *
 * @module
 */

import type { GspMessageQueues } from "./msgq.ts";
import { RPC_FUNCTION } from "./rpc.ts";

/** `PACKED_REGISTRY_TABLE` / `PACKED_REGISTRY_ENTRY` offsets. */
export const PACKED_REGISTRY = {
  size: 0,
  numEntries: 4,
  entries: 8,
  entrySize: 16,
  nameOffset: 0,
  type: 4,
  data: 8,
  length: 12,
  /** `REGISTRY_TABLE_ENTRY_TYPE_DWORD`. */
  typeDword: 1,
} as const;

/** One DWORD registry key. */
export interface RegistryEntry {
  /** Key name, ASCII. */
  readonly name: string;
  /** Its 32-bit value. */
  readonly value: number;
}

/** The keys nova-core sends (reference §5.3). */
export const DEFAULT_REGISTRY: readonly RegistryEntry[] = [
  { name: "RMSecBusResetEnable", value: 1 },
  { name: "RMForcePcieConfigSave", value: 1 },
  { name: "RMDevidCheckIgnore", value: 1 },
];

/**
 * Encode a packed registry table of DWORD keys.
 *
 * @param entries The keys.
 * @returns The table.
 */
export function encodePackedRegistry(entries: readonly RegistryEntry[]): Uint8Array<ArrayBuffer> {
  const r = PACKED_REGISTRY;
  const names = entries.map((e) => {
    if (!/^[\x21-\x7e]+$/.test(e.name)) {
      throw new RangeError(`registry key "${e.name}" is not printable ASCII`);
    }
    return e.name;
  });
  const stringsAt = r.entries + entries.length * r.entrySize;
  const size = stringsAt + names.reduce((n, name) => n + name.length + 1, 0);
  const table = new Uint8Array(size);
  const v = new DataView(table.buffer);
  v.setUint32(r.size, size, true);
  v.setUint32(r.numEntries, entries.length, true);
  let nameAt = stringsAt;
  entries.forEach((entry, i) => {
    const at = r.entries + i * r.entrySize;
    v.setUint32(at + r.nameOffset, nameAt, true);
    v.setUint8(at + r.type, r.typeDword);
    v.setUint32(at + r.data, entry.value >>> 0, true);
    v.setUint32(at + r.length, 4, true);
    for (const char of names[i]) table[nameAt++] = char.charCodeAt(0);
    nameAt++; // NUL
  });
  return table;
}

/**
 * Decode a packed registry table (DWORD entries).
 *
 * @param table The table.
 * @returns The keys, in order.
 * @throws {RangeError} when an offset points outside the table.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodePackedRegistry } from "./registry.ts";
 * assert.throws(() => decodePackedRegistry(new Uint8Array(4)), RangeError);
 * ```
 */
export function decodePackedRegistry(table: Uint8Array): RegistryEntry[] {
  const r = PACKED_REGISTRY;
  if (table.length < r.entries) throw new RangeError(`a ${table.length}-byte registry table`);
  const v = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const size = v.getUint32(r.size, true);
  const count = v.getUint32(r.numEntries, true);
  if (size > table.length || r.entries + count * r.entrySize > size) {
    throw new RangeError(
      `registry table size ${size} with ${count} entries in ${table.length} bytes`,
    );
  }
  return Array.from({ length: count }, (_, i) => {
    const at = r.entries + i * r.entrySize;
    const nameAt = v.getUint32(at + r.nameOffset, true);
    const end = table.indexOf(0, nameAt);
    if (nameAt >= size || end < 0 || end >= size) {
      throw new RangeError(`registry entry ${i}: name offset ${nameAt} outside the table`);
    }
    return {
      name: String.fromCharCode(...table.subarray(nameAt, end)),
      value: v.getUint32(at + r.data, true),
    };
  });
}

/**
 * Send SET_REGISTRY (no reply).
 *
 * @param queues The message queues.
 * @param entries The keys; default {@linkcode DEFAULT_REGISTRY}.
 * @param options Abort signal.
 */
export function sendRegistry(
  queues: GspMessageQueues,
  entries: readonly RegistryEntry[] = DEFAULT_REGISTRY,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  return queues.send(RPC_FUNCTION.SET_REGISTRY, encodePackedRegistry(entries), options);
}
