/**
 * The VFIO user-space ABI (`linux/vfio.h`) as data: ioctl request numbers,
 * flag bits, region indexes, struct layouts, and pure encoders and decoders
 * for the structs falconry passes to the kernel. Nothing here touches a
 * file or the hardware.
 *
 * Every VFIO ioctl is `_IO(VFIO_TYPE, VFIO_BASE + n)` with `VFIO_TYPE` = `';'`
 * (0x3b) and `VFIO_BASE` = 100: no size or direction bits, so the number is
 * `(0x3b << 8) | (100 + n)` on every architecture. Structs are little-endian
 * with natural alignment (identical on x86_64 and aarch64).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRegionInfo, encodeRegionInfo, VFIO_IOCTL, VFIO_PCI_REGION } from "./vfio_abi.ts";
 * assert(VFIO_IOCTL.VFIO_DEVICE_GET_REGION_INFO === 0x3b6c);
 * const request = encodeRegionInfo(VFIO_PCI_REGION.BAR0);
 * // the kernel fills in flags, size and offset; decode what it wrote back
 * assert(decodeRegionInfo(request).index === 0);
 * ```
 *
 * @module
 */

import { FalconryError } from "../errors.ts";

/** `VFIO_TYPE`, the ioctl type byte `';'`. */
export const VFIO_TYPE = 0x3b;
/** `VFIO_BASE`, the first ioctl number. */
export const VFIO_BASE = 100;
/** `VFIO_API_VERSION`, what `VFIO_GET_API_VERSION` returns. */
export const VFIO_API_VERSION = 0;

/**
 * `_IO(VFIO_TYPE, VFIO_BASE + n)`.
 *
 * @param n Offset from `VFIO_BASE`.
 * @returns The request number.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vfioIo } from "./vfio_abi.ts";
 * assert(vfioIo(0) === 0x3b64);
 * ```
 */
export function vfioIo(n: number): number {
  return (VFIO_TYPE << 8) | (VFIO_BASE + n);
}

/** Names of the VFIO ioctls falconry uses, as in `linux/vfio.h`. */
export type VfioIoctlName =
  | "VFIO_GET_API_VERSION"
  | "VFIO_CHECK_EXTENSION"
  | "VFIO_SET_IOMMU"
  | "VFIO_GROUP_GET_STATUS"
  | "VFIO_GROUP_SET_CONTAINER"
  | "VFIO_GROUP_UNSET_CONTAINER"
  | "VFIO_GROUP_GET_DEVICE_FD"
  | "VFIO_DEVICE_GET_INFO"
  | "VFIO_DEVICE_GET_REGION_INFO"
  | "VFIO_DEVICE_RESET"
  | "VFIO_IOMMU_GET_INFO"
  | "VFIO_IOMMU_MAP_DMA"
  | "VFIO_IOMMU_UNMAP_DMA";

/** ioctl request numbers, keyed by their `linux/vfio.h` names. */
export const VFIO_IOCTL: Readonly<Record<VfioIoctlName, number>> = {
  /** Container: API version (returns `VFIO_API_VERSION`). */
  VFIO_GET_API_VERSION: vfioIo(0),
  /** Container: whether an IOMMU type is supported (argument by value). */
  VFIO_CHECK_EXTENSION: vfioIo(1),
  /** Container: select the IOMMU type (argument by value). */
  VFIO_SET_IOMMU: vfioIo(2),
  /** Group: `struct vfio_group_status`. */
  VFIO_GROUP_GET_STATUS: vfioIo(3),
  /** Group: attach to a container (pointer to its `int` fd). */
  VFIO_GROUP_SET_CONTAINER: vfioIo(4),
  /** Group: detach from the container. */
  VFIO_GROUP_UNSET_CONTAINER: vfioIo(5),
  /** Group: a device fd for a NUL-terminated device name (the BDF). */
  VFIO_GROUP_GET_DEVICE_FD: vfioIo(6),
  /** Device: `struct vfio_device_info`. */
  VFIO_DEVICE_GET_INFO: vfioIo(7),
  /** Device: `struct vfio_region_info`. */
  VFIO_DEVICE_GET_REGION_INFO: vfioIo(8),
  /** Device: function reset. */
  VFIO_DEVICE_RESET: vfioIo(11),
  /** Container: `struct vfio_iommu_type1_info`. */
  VFIO_IOMMU_GET_INFO: vfioIo(12),
  /** Container: `struct vfio_iommu_type1_dma_map`. */
  VFIO_IOMMU_MAP_DMA: vfioIo(13),
  /** Container: `struct vfio_iommu_type1_dma_unmap`. */
  VFIO_IOMMU_UNMAP_DMA: vfioIo(14),
};

/** IOMMU types for `VFIO_CHECK_EXTENSION` / `VFIO_SET_IOMMU`. */
export const VFIO_IOMMU_TYPE = {
  /** `VFIO_TYPE1_IOMMU`. */
  TYPE1: 1,
  /** `VFIO_TYPE1v2_IOMMU`: type 1 with strict unmap semantics; what falconry uses. */
  TYPE1v2: 3,
} as const;

/** `vfio_group_status.flags` bits. */
export const VFIO_GROUP_FLAGS = {
  /** Every device in the group is bound to a VFIO driver or to none. */
  VIABLE: 1 << 0,
  /** The group is attached to a container. */
  CONTAINER_SET: 1 << 1,
} as const;

/** `vfio_device_info.flags` bits. */
export const VFIO_DEVICE_FLAGS = {
  /** The device supports `VFIO_DEVICE_RESET`. */
  RESET: 1 << 0,
  /** A vfio-pci device. */
  PCI: 1 << 1,
  /** The info has a capability chain. */
  CAPS: 1 << 7,
} as const;

/** `vfio_region_info.flags` bits. */
export const VFIO_REGION_FLAGS = {
  /** Readable through the device fd. */
  READ: 1 << 0,
  /** Writable through the device fd. */
  WRITE: 1 << 1,
  /** `mmap`able through the device fd. */
  MMAP: 1 << 2,
  /** The info has a capability chain. */
  CAPS: 1 << 3,
} as const;

/** Region indexes of a vfio-pci device (fixed ABI). */
export const VFIO_PCI_REGION = {
  /** BAR0 (the GPU's registers). */
  BAR0: 0,
  /** BAR1. */
  BAR1: 1,
  /** BAR2. */
  BAR2: 2,
  /** BAR3. */
  BAR3: 3,
  /** BAR4. */
  BAR4: 4,
  /** BAR5. */
  BAR5: 5,
  /** Expansion ROM. */
  ROM: 6,
  /** Configuration space. */
  CONFIG: 7,
  /** Legacy VGA ranges. */
  VGA: 8,
} as const;

/** Region capability ids. */
export const VFIO_REGION_CAP = {
  /** Only parts of the region may be mapped (`vfio_region_info_cap_sparse_mmap`). */
  SPARSE_MMAP: 1,
  /** Device-specific region type. */
  TYPE: 2,
  /** The MSI-X table inside the BAR may be mapped with the rest. */
  MSIX_MAPPABLE: 3,
} as const;

/** IOMMU info capability ids. */
export const VFIO_IOMMU_CAP = {
  /** Valid IOVA ranges (`vfio_iommu_type1_info_cap_iova_range`). */
  IOVA_RANGE: 1,
  /** Dirty page tracking for migration. */
  MIGRATION: 2,
  /** How many more DMA mappings are allowed. */
  DMA_AVAIL: 3,
} as const;

/** `vfio_iommu_type1_info.flags` bits. */
export const VFIO_IOMMU_INFO_FLAGS = {
  /** `iova_pgsizes` is valid. */
  PGSIZES: 1 << 0,
  /** The info has a capability chain. */
  CAPS: 1 << 1,
} as const;

/** `vfio_iommu_type1_dma_map.flags` bits. */
export const VFIO_DMA_MAP_FLAGS = {
  /** The device may read the memory. */
  READ: 1 << 0,
  /** The device may write the memory. */
  WRITE: 1 << 1,
} as const;

/** A struct's size and the byte offset of each field. */
export interface StructLayout {
  /** `sizeof` the struct. */
  readonly size: number;
  /** Field name (as in `linux/vfio.h`) → byte offset. */
  readonly fields: Readonly<Record<string, number>>;
}

/**
 * Layouts of the VFIO structs used here, as in the current upstream header.
 * `vfio_device_info` gained a trailing `pad` in 2023, so older installed
 * headers report 20 bytes for it; the kernel accepts either `argsz`.
 */
export const VFIO_STRUCTS = {
  vfio_info_cap_header: { size: 8, fields: { id: 0, version: 2, next: 4 } },
  vfio_group_status: { size: 8, fields: { argsz: 0, flags: 4 } },
  vfio_device_info: {
    size: 24,
    fields: { argsz: 0, flags: 4, num_regions: 8, num_irqs: 12, cap_offset: 16, pad: 20 },
  },
  vfio_region_info: {
    size: 32,
    fields: { argsz: 0, flags: 4, index: 8, cap_offset: 12, size: 16, offset: 24 },
  },
  vfio_region_sparse_mmap_area: { size: 16, fields: { offset: 0, size: 8 } },
  vfio_region_info_cap_sparse_mmap: {
    size: 16,
    fields: { header: 0, nr_areas: 8, reserved: 12, areas: 16 },
  },
  vfio_iommu_type1_info: {
    size: 24,
    fields: { argsz: 0, flags: 4, iova_pgsizes: 8, cap_offset: 16 },
  },
  vfio_iova_range: { size: 16, fields: { start: 0, end: 8 } },
  vfio_iommu_type1_info_cap_iova_range: {
    size: 16,
    fields: { header: 0, nr_iovas: 8, reserved: 12, iova_ranges: 16 },
  },
  vfio_iommu_type1_dma_map: {
    size: 32,
    fields: { argsz: 0, flags: 4, vaddr: 8, iova: 16, size: 24 },
  },
  vfio_iommu_type1_dma_unmap: {
    size: 24,
    fields: { argsz: 0, flags: 4, iova: 8, size: 16 },
  },
} as const satisfies Record<string, StructLayout>;

const GROUP_STATUS = VFIO_STRUCTS.vfio_group_status;
const DEVICE_INFO = VFIO_STRUCTS.vfio_device_info;
const REGION_INFO = VFIO_STRUCTS.vfio_region_info;
const CAP_HEADER = VFIO_STRUCTS.vfio_info_cap_header;
const SPARSE = VFIO_STRUCTS.vfio_region_info_cap_sparse_mmap;
const SPARSE_AREA = VFIO_STRUCTS.vfio_region_sparse_mmap_area;
const IOMMU_INFO = VFIO_STRUCTS.vfio_iommu_type1_info;
const IOVA_CAP = VFIO_STRUCTS.vfio_iommu_type1_info_cap_iova_range;
const IOVA_RANGE = VFIO_STRUCTS.vfio_iova_range;
const DMA_MAP = VFIO_STRUCTS.vfio_iommu_type1_dma_map;
const DMA_UNMAP = VFIO_STRUCTS.vfio_iommu_type1_dma_unmap;

/** A bound on capability chains, which the kernel keeps to a handful of entries. */
const MAX_CAPS = 64;

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function newStruct(size: number, argsz = size): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(Math.max(size, argsz));
  view(bytes).setUint32(0, argsz, true);
  return bytes;
}

function need(bytes: Uint8Array, size: number, what: string): DataView {
  if (bytes.byteLength < size) {
    throw new FalconryError(`${what}: ${bytes.byteLength} bytes, expected at least ${size}`);
  }
  return view(bytes);
}

/**
 * A NUL-terminated string for `VFIO_GROUP_GET_DEVICE_FD`.
 *
 * @param text The device name (its BDF).
 * @returns The bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeCString } from "./vfio_abi.ts";
 * assert(encodeCString("0000:01:00.0").at(-1) === 0);
 * ```
 */
export function encodeCString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/**
 * A 32-bit int, by address, for `VFIO_GROUP_SET_CONTAINER`.
 *
 * @param value The container fd.
 * @returns 4 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeInt32 } from "./vfio_abi.ts";
 * assert(encodeInt32(5)[0] === 5);
 * ```
 */
export function encodeInt32(value: number): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(4);
  view(bytes).setInt32(0, value, true);
  return bytes;
}

/** Decoded `struct vfio_group_status`. */
export interface GroupStatus {
  /** Raw flags. */
  readonly flags: number;
  /** All devices of the group are bound to VFIO drivers or to none. */
  readonly viable: boolean;
  /** Attached to a container. */
  readonly containerSet: boolean;
}

/**
 * An empty `struct vfio_group_status` with `argsz` set.
 *
 * @returns 8 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeGroupStatus } from "./vfio_abi.ts";
 * assert(encodeGroupStatus()[0] === 8);
 * ```
 */
export function encodeGroupStatus(): Uint8Array<ArrayBuffer> {
  return newStruct(GROUP_STATUS.size);
}

/**
 * Decode `struct vfio_group_status`.
 *
 * @param bytes What the kernel wrote.
 * @returns The status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeGroupStatus } from "./vfio_abi.ts";
 * assert(decodeGroupStatus(new Uint8Array([8, 0, 0, 0, 3, 0, 0, 0])).viable);
 * ```
 */
export function decodeGroupStatus(bytes: Uint8Array): GroupStatus {
  const flags = need(bytes, GROUP_STATUS.size, "vfio_group_status")
    .getUint32(GROUP_STATUS.fields.flags, true);
  return {
    flags,
    viable: (flags & VFIO_GROUP_FLAGS.VIABLE) !== 0,
    containerSet: (flags & VFIO_GROUP_FLAGS.CONTAINER_SET) !== 0,
  };
}

/** Decoded `struct vfio_device_info`. */
export interface DeviceInfoResult {
  /** Size the kernel needs (with capabilities). */
  readonly argsz: number;
  /** `VFIO_DEVICE_FLAGS` bits. */
  readonly flags: number;
  /** Number of regions. */
  readonly numRegions: number;
  /** Number of IRQ indexes. */
  readonly numIrqs: number;
  /** Offset of the first capability, 0 if none. */
  readonly capOffset: number;
}

/**
 * An empty `struct vfio_device_info` with `argsz` set.
 *
 * @returns 24 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeDeviceInfo } from "./vfio_abi.ts";
 * assert(encodeDeviceInfo().length === 24);
 * ```
 */
export function encodeDeviceInfo(): Uint8Array<ArrayBuffer> {
  return newStruct(DEVICE_INFO.size);
}

/**
 * Decode `struct vfio_device_info`.
 *
 * @param bytes What the kernel wrote (at least the first 16 bytes are used).
 * @returns The info.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeDeviceInfo, encodeDeviceInfo } from "./vfio_abi.ts";
 * const b = encodeDeviceInfo();
 * b[4] = 3; b[8] = 9; b[12] = 5;
 * const info = decodeDeviceInfo(b);
 * assert(info.numRegions === 9 && info.numIrqs === 5 && info.flags === 3);
 * ```
 */
export function decodeDeviceInfo(bytes: Uint8Array): DeviceInfoResult {
  const v = need(bytes, DEVICE_INFO.fields.cap_offset + 4, "vfio_device_info");
  const f = DEVICE_INFO.fields;
  return {
    argsz: v.getUint32(f.argsz, true),
    flags: v.getUint32(f.flags, true),
    numRegions: v.getUint32(f.num_regions, true),
    numIrqs: v.getUint32(f.num_irqs, true),
    capOffset: v.getUint32(f.cap_offset, true),
  };
}

/** One entry of a capability chain. */
export interface CapabilityEntry {
  /** Capability id. */
  readonly id: number;
  /** Its version. */
  readonly version: number;
  /** Offset of its header in the info buffer. */
  readonly offset: number;
}

/**
 * Walk a capability chain (`vfio_info_cap_header` entries linked by `next`,
 * offsets from the start of the info struct). Bounded: an offset outside
 * the buffer, a backwards link or an over-long chain throws.
 *
 * @param bytes The whole info buffer.
 * @param first `cap_offset` from the info struct; 0 means no chain.
 * @param minOffset Lowest valid offset (the info struct's size).
 * @returns The entries in chain order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { capabilityChain } from "./vfio_abi.ts";
 * const b = new Uint8Array(48);
 * new DataView(b.buffer).setUint16(32, 3, true);   // MSIX_MAPPABLE, next = 0
 * assert(capabilityChain(b, 32, 32)[0].id === 3);
 * ```
 */
export function capabilityChain(
  bytes: Uint8Array,
  first: number,
  minOffset: number,
): CapabilityEntry[] {
  const entries: CapabilityEntry[] = [];
  const v = view(bytes);
  let offset = first;
  while (offset !== 0) {
    if (
      entries.length >= MAX_CAPS || offset < minOffset || offset % 4 !== 0 ||
      offset + CAP_HEADER.size > bytes.byteLength ||
      (entries.length > 0 && offset <= entries[entries.length - 1].offset)
    ) {
      throw new FalconryError(
        `VFIO capability chain: bad entry at offset ${offset} (buffer ${bytes.byteLength} bytes)`,
      );
    }
    entries.push({
      id: v.getUint16(offset + CAP_HEADER.fields.id, true),
      version: v.getUint16(offset + CAP_HEADER.fields.version, true),
      offset,
    });
    offset = v.getUint32(offset + CAP_HEADER.fields.next, true);
  }
  return entries;
}

/** A `[offset, offset + size)` part of a region. */
export interface RegionArea {
  /** Offset within the region. */
  readonly offset: bigint;
  /** Bytes. */
  readonly size: bigint;
}

/** Decoded `struct vfio_region_info` with its capabilities. */
export interface RegionInfo {
  /** Size the kernel needs; larger than the buffer when capabilities did not fit. */
  readonly argsz: number;
  /** `VFIO_REGION_FLAGS` bits. */
  readonly flags: number;
  /** Region index. */
  readonly index: number;
  /** Offset of the first capability. */
  readonly capOffset: number;
  /** Region size in bytes (0: the device has no such region). */
  readonly size: bigint;
  /** Offset of the region in the device fd, for `pread`/`pwrite`/`mmap`. */
  readonly offset: bigint;
  /** Capabilities present in the buffer. */
  readonly caps: readonly CapabilityEntry[];
  /** The mappable parts, when a sparse-mmap capability is present. */
  readonly sparseAreas: readonly RegionArea[] | null;
  /** Whether the MSI-X table may be mapped along with the rest. */
  readonly msixMappable: boolean;
}

/**
 * A `struct vfio_region_info` request for region `index`.
 *
 * @param index Region index ({@linkcode VFIO_PCI_REGION}).
 * @param argsz Buffer size; larger than 32 to receive capabilities.
 * @returns The request bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeRegionInfo } from "./vfio_abi.ts";
 * const b = encodeRegionInfo(7);
 * assert(b.length === 32 && b[0] === 32 && b[8] === 7);
 * ```
 */
export function encodeRegionInfo(
  index: number,
  argsz: number = REGION_INFO.size,
): Uint8Array<ArrayBuffer> {
  const bytes = newStruct(REGION_INFO.size, argsz);
  view(bytes).setUint32(REGION_INFO.fields.index, index, true);
  return bytes;
}

/**
 * Decode `struct vfio_region_info` and the capabilities that fit in `bytes`.
 *
 * @param bytes What the kernel wrote.
 * @returns The info.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRegionInfo, encodeRegionInfo } from "./vfio_abi.ts";
 * const b = encodeRegionInfo(0);
 * const v = new DataView(b.buffer);
 * v.setUint32(4, 7, true); v.setBigUint64(16, 0x1000000n, true);
 * const info = decodeRegionInfo(b);
 * assert(info.size === 0x1000000n && info.offset === 0n && info.flags === 7);
 * ```
 */
export function decodeRegionInfo(bytes: Uint8Array): RegionInfo {
  const v = need(bytes, REGION_INFO.size, "vfio_region_info");
  const f = REGION_INFO.fields;
  const argsz = v.getUint32(f.argsz, true);
  const flags = v.getUint32(f.flags, true);
  const capOffset = v.getUint32(f.cap_offset, true);
  const complete = argsz <= bytes.byteLength;
  const caps = flags & VFIO_REGION_FLAGS.CAPS && complete
    ? capabilityChain(bytes, capOffset, REGION_INFO.size)
    : [];
  const sparse = caps.find((c) => c.id === VFIO_REGION_CAP.SPARSE_MMAP);
  return {
    argsz,
    flags,
    index: v.getUint32(f.index, true),
    capOffset,
    size: v.getBigUint64(f.size, true),
    offset: v.getBigUint64(f.offset, true),
    caps,
    sparseAreas: sparse ? decodeSparseAreas(bytes, sparse.offset) : null,
    msixMappable: caps.some((c) => c.id === VFIO_REGION_CAP.MSIX_MAPPABLE),
  };
}

function decodeSparseAreas(bytes: Uint8Array, at: number): RegionArea[] {
  const v = need(bytes, at + SPARSE.size, "vfio_region_info_cap_sparse_mmap");
  const count = v.getUint32(at + SPARSE.fields.nr_areas, true);
  const first = at + SPARSE.fields.areas;
  if (count > (bytes.byteLength - first) / SPARSE_AREA.size) {
    throw new FalconryError(`sparse mmap capability: ${count} areas do not fit the buffer`);
  }
  return Array.from({ length: count }, (_, i) => {
    const o = first + i * SPARSE_AREA.size;
    return {
      offset: v.getBigUint64(o + SPARSE_AREA.fields.offset, true),
      size: v.getBigUint64(o + SPARSE_AREA.fields.size, true),
    };
  });
}

/** A DMA mapping request. */
export interface DmaMapRequest {
  /** Process virtual address of the memory. */
  readonly vaddr: bigint;
  /** Address the device will use. */
  readonly iova: bigint;
  /** Bytes, a multiple of the IOMMU page size. */
  readonly size: bigint;
  /** `VFIO_DMA_MAP_FLAGS`; defaults to read and write. */
  readonly flags?: number;
}

/**
 * `struct vfio_iommu_type1_dma_map`.
 *
 * @param request Addresses, size and access.
 * @returns 32 bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeDmaMap, encodeDmaMap } from "./vfio_abi.ts";
 * const b = encodeDmaMap({ vaddr: 0x7f0000000000n, iova: 0x100000000n, size: 0x1000n });
 * assert(decodeDmaMap(b).iova === 0x100000000n && b[4] === 3);
 * ```
 */
export function encodeDmaMap(request: DmaMapRequest): Uint8Array<ArrayBuffer> {
  const bytes = newStruct(DMA_MAP.size);
  const v = view(bytes);
  const f = DMA_MAP.fields;
  v.setUint32(f.flags, request.flags ?? (VFIO_DMA_MAP_FLAGS.READ | VFIO_DMA_MAP_FLAGS.WRITE), true);
  v.setBigUint64(f.vaddr, request.vaddr, true);
  v.setBigUint64(f.iova, request.iova, true);
  v.setBigUint64(f.size, request.size, true);
  return bytes;
}

/**
 * Decode `struct vfio_iommu_type1_dma_map` (for tests and logs).
 *
 * @param bytes The struct.
 * @returns Its fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeDmaMap, encodeDmaMap } from "./vfio_abi.ts";
 * assert(decodeDmaMap(encodeDmaMap({ vaddr: 1n, iova: 2n, size: 3n })).size === 3n);
 * ```
 */
export function decodeDmaMap(bytes: Uint8Array): Required<DmaMapRequest> & { argsz: number } {
  const v = need(bytes, DMA_MAP.size, "vfio_iommu_type1_dma_map");
  const f = DMA_MAP.fields;
  return {
    argsz: v.getUint32(f.argsz, true),
    flags: v.getUint32(f.flags, true),
    vaddr: v.getBigUint64(f.vaddr, true),
    iova: v.getBigUint64(f.iova, true),
    size: v.getBigUint64(f.size, true),
  };
}

/**
 * `struct vfio_iommu_type1_dma_unmap`.
 *
 * @param iova Start of the mapping.
 * @param size Its size.
 * @returns 24 bytes; the kernel writes the unmapped size back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeDmaUnmap, encodeDmaUnmap } from "./vfio_abi.ts";
 * const b = encodeDmaUnmap(0x100000000n, 0x2000n);
 * assert(b.length === 24 && decodeDmaUnmap(b).size === 0x2000n);
 * ```
 */
export function encodeDmaUnmap(iova: bigint, size: bigint): Uint8Array<ArrayBuffer> {
  const bytes = newStruct(DMA_UNMAP.size);
  const v = view(bytes);
  v.setBigUint64(DMA_UNMAP.fields.iova, iova, true);
  v.setBigUint64(DMA_UNMAP.fields.size, size, true);
  return bytes;
}

/**
 * Decode `struct vfio_iommu_type1_dma_unmap` after the call.
 *
 * @param bytes The struct.
 * @returns The IOVA and the size actually unmapped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeDmaUnmap, encodeDmaUnmap } from "./vfio_abi.ts";
 * assert(decodeDmaUnmap(encodeDmaUnmap(8n, 16n)).iova === 8n);
 * ```
 */
export function decodeDmaUnmap(bytes: Uint8Array): { flags: number; iova: bigint; size: bigint } {
  const v = need(bytes, DMA_UNMAP.size, "vfio_iommu_type1_dma_unmap");
  return {
    flags: v.getUint32(DMA_UNMAP.fields.flags, true),
    iova: v.getBigUint64(DMA_UNMAP.fields.iova, true),
    size: v.getBigUint64(DMA_UNMAP.fields.size, true),
  };
}

/** Decoded `struct vfio_iommu_type1_info` with its IOVA ranges. */
export interface IommuInfo {
  /** Size the kernel needs. */
  readonly argsz: number;
  /** `VFIO_IOMMU_INFO_FLAGS` bits. */
  readonly flags: number;
  /** Bitmap of supported IOMMU page sizes. */
  readonly iovaPageSizes: bigint;
  /** Valid IOVA ranges, half-open `[start, end)`; null when not reported. */
  readonly iovaRanges: readonly { start: bigint; end: bigint }[] | null;
}

/**
 * A `struct vfio_iommu_type1_info` request.
 *
 * @param argsz Buffer size; larger than 24 to receive capabilities.
 * @returns The request bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeIommuInfo } from "./vfio_abi.ts";
 * assert(encodeIommuInfo(256).length === 256);
 * ```
 */
export function encodeIommuInfo(argsz: number = IOMMU_INFO.size): Uint8Array<ArrayBuffer> {
  return newStruct(IOMMU_INFO.size, argsz);
}

/**
 * Decode `struct vfio_iommu_type1_info`; the kernel's inclusive range ends
 * are returned as exclusive ones.
 *
 * @param bytes What the kernel wrote.
 * @returns The info.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeIommuInfo, encodeIommuInfo } from "./vfio_abi.ts";
 * const b = encodeIommuInfo();
 * new DataView(b.buffer).setUint32(4, 1, true);
 * new DataView(b.buffer).setBigUint64(8, 0x40201000n, true);
 * assert(decodeIommuInfo(b).iovaPageSizes === 0x40201000n);
 * ```
 */
export function decodeIommuInfo(bytes: Uint8Array): IommuInfo {
  const v = need(bytes, IOMMU_INFO.size, "vfio_iommu_type1_info");
  const f = IOMMU_INFO.fields;
  const argsz = v.getUint32(f.argsz, true);
  const flags = v.getUint32(f.flags, true);
  const caps = flags & VFIO_IOMMU_INFO_FLAGS.CAPS && argsz <= bytes.byteLength
    ? capabilityChain(bytes, v.getUint32(f.cap_offset, true), IOMMU_INFO.size)
    : [];
  const rangeCap = caps.find((c) => c.id === VFIO_IOMMU_CAP.IOVA_RANGE);
  let iovaRanges: { start: bigint; end: bigint }[] | null = null;
  if (rangeCap) {
    const at = rangeCap.offset;
    const count = need(bytes, at + IOVA_CAP.size, "iova range capability")
      .getUint32(at + IOVA_CAP.fields.nr_iovas, true);
    const first = at + IOVA_CAP.fields.iova_ranges;
    if (count > (bytes.byteLength - first) / IOVA_RANGE.size) {
      throw new FalconryError(`IOVA range capability: ${count} ranges do not fit the buffer`);
    }
    iovaRanges = Array.from({ length: count }, (_, i) => {
      const o = first + i * IOVA_RANGE.size;
      return {
        start: v.getBigUint64(o + IOVA_RANGE.fields.start, true),
        end: v.getBigUint64(o + IOVA_RANGE.fields.end, true) + 1n,
      };
    });
  }
  return {
    argsz,
    flags,
    iovaPageSizes: flags & VFIO_IOMMU_INFO_FLAGS.PGSIZES
      ? v.getBigUint64(f.iova_pgsizes, true)
      : 0n,
    iovaRanges,
  };
}

/**
 * The two hot-reset ioctls of a vfio-pci device. They reuse the numbers of
 * the container's `VFIO_IOMMU_GET_INFO` and `VFIO_IOMMU_MAP_DMA` (an ioctl
 * number means something only for its kind of descriptor), which is why they
 * are kept out of {@linkcode VFIO_IOCTL}, whose numbers are unique.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VFIO_HOT_RESET_IOCTL } from "./vfio_abi.ts";
 * assert.equal(VFIO_HOT_RESET_IOCTL.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, 0x3b70);
 * assert.equal(VFIO_HOT_RESET_IOCTL.VFIO_DEVICE_PCI_HOT_RESET, 0x3b71);
 * ```
 */
export const VFIO_HOT_RESET_IOCTL: Readonly<
  Record<"VFIO_DEVICE_GET_PCI_HOT_RESET_INFO" | "VFIO_DEVICE_PCI_HOT_RESET", number>
> = {
  /** Device: the functions a hot reset would affect (`struct vfio_pci_hot_reset_info`). */
  VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: vfioIo(12),
  /** Device: bus or slot reset, given every affected group (`struct vfio_pci_hot_reset`). */
  VFIO_DEVICE_PCI_HOT_RESET: vfioIo(13),
};

/** `vfio_pci_hot_reset_info.flags` bits. */
export const VFIO_PCI_HOT_RESET_FLAGS = {
  /** `devices[]` hold iommufd device ids, not group ids (device opened as a cdev). */
  DEV_ID: 1 << 0,
  /** Every affected device is owned by the caller (cdev only). */
  DEV_ID_OWNED: 1 << 1,
} as const;

/** Layouts of the hot-reset structs (`linux/vfio.h`). */
export const VFIO_HOT_RESET_STRUCTS = {
  vfio_pci_dependent_device: { size: 8, fields: { group_id: 0, segment: 4, bus: 6, devfn: 7 } },
  vfio_pci_hot_reset_info: { size: 12, fields: { argsz: 0, flags: 4, count: 8, devices: 12 } },
  vfio_pci_hot_reset: { size: 12, fields: { argsz: 0, flags: 4, count: 8, group_fds: 12 } },
} as const satisfies Record<string, StructLayout>;

const DEPENDENT = VFIO_HOT_RESET_STRUCTS.vfio_pci_dependent_device;
const HOT_RESET_INFO = VFIO_HOT_RESET_STRUCTS.vfio_pci_hot_reset_info;
const HOT_RESET = VFIO_HOT_RESET_STRUCTS.vfio_pci_hot_reset;

/** One function a hot reset affects. */
export interface DependentDevice {
  /** Its IOMMU group (or iommufd device id when the DEV_ID flag is set). */
  readonly groupId: number;
  /** PCI segment (domain). */
  readonly segment: number;
  /** Bus number. */
  readonly bus: number;
  /** Device and function, `(device << 3) | function`. */
  readonly devfn: number;
  /** The address, `DDDD:BB:DD.F`. */
  readonly bdf: string;
}

/** Decoded `struct vfio_pci_hot_reset_info`. */
export interface HotResetInfo {
  /** Size the kernel needs for every device. */
  readonly argsz: number;
  /** {@linkcode VFIO_PCI_HOT_RESET_FLAGS} bits. */
  readonly flags: number;
  /** How many devices a hot reset affects. */
  readonly count: number;
  /** The devices that fit the buffer (all of them when it was large enough). */
  readonly devices: readonly DependentDevice[];
}

/**
 * A `struct vfio_pci_hot_reset_info` request with room for `capacity` devices.
 *
 * @param capacity Devices the buffer can hold; 0 to ask only for the count.
 * @returns The request bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeHotResetInfo } from "./vfio_abi.ts";
 * const b = encodeHotResetInfo(2);
 * assert.equal(b.length, 28);
 * assert.equal(b[0], 28); // argsz
 * ```
 */
export function encodeHotResetInfo(capacity: number): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(capacity) || capacity < 0 || capacity > 256) {
    throw new RangeError(`hot reset info: capacity ${capacity} is not 0 … 256`);
  }
  return newStruct(HOT_RESET_INFO.size + capacity * DEPENDENT.size);
}

/**
 * Decode `struct vfio_pci_hot_reset_info`.
 *
 * @param bytes What the kernel wrote.
 * @returns The info.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHotResetInfo, encodeHotResetInfo } from "./vfio_abi.ts";
 * const b = encodeHotResetInfo(1);
 * const v = new DataView(b.buffer);
 * v.setUint32(8, 1, true); // count
 * v.setUint32(12, 13, true); v.setUint8(18, 0x02); v.setUint8(19, 0x01); // group 13, 02:00.1
 * assert.equal(decodeHotResetInfo(b).devices[0].bdf, "0000:02:00.1");
 * ```
 */
export function decodeHotResetInfo(bytes: Uint8Array): HotResetInfo {
  const v = need(bytes, HOT_RESET_INFO.size, "vfio_pci_hot_reset_info");
  const f = HOT_RESET_INFO.fields;
  const count = v.getUint32(f.count, true);
  const room = Math.floor((bytes.byteLength - HOT_RESET_INFO.size) / DEPENDENT.size);
  const devices = Array.from({ length: Math.min(count, room) }, (_, i): DependentDevice => {
    const at = f.devices + i * DEPENDENT.size;
    const segment = v.getUint16(at + DEPENDENT.fields.segment, true);
    const bus = v.getUint8(at + DEPENDENT.fields.bus);
    const devfn = v.getUint8(at + DEPENDENT.fields.devfn);
    const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");
    return {
      groupId: v.getUint32(at + DEPENDENT.fields.group_id, true),
      segment,
      bus,
      devfn,
      bdf: `${hex(segment, 4)}:${hex(bus, 2)}:${hex(devfn >> 3, 2)}.${devfn & 7}`,
    };
  });
  return { argsz: v.getUint32(f.argsz, true), flags: v.getUint32(f.flags, true), count, devices };
}

/**
 * A `struct vfio_pci_hot_reset` naming every affected group's descriptor.
 *
 * @param groupFds Open group descriptors, one per affected IOMMU group.
 * @returns The request bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeHotReset } from "./vfio_abi.ts";
 * const b = encodeHotReset([7, 9]);
 * const v = new DataView(b.buffer);
 * assert.deepEqual([v.getUint32(0, true), v.getUint32(8, true), v.getInt32(16, true)], [20, 2, 9]);
 * ```
 */
export function encodeHotReset(groupFds: readonly number[]): Uint8Array<ArrayBuffer> {
  const bytes = newStruct(HOT_RESET.size + groupFds.length * 4);
  const v = view(bytes);
  v.setUint32(HOT_RESET.fields.flags, 0, true);
  v.setUint32(HOT_RESET.fields.count, groupFds.length, true);
  groupFds.forEach((fd, i) => v.setInt32(HOT_RESET.fields.group_fds + i * 4, fd, true));
  return bytes;
}
