/**
 * GSP_SET_SYSTEM_INFO: the first command after GSP-RM starts, telling it
 * where the GPU's BARs are, its PCI identity and where the PCI config-space
 * mirror sits in BAR0. It has no reply.
 *
 * `GspSystemInfo` offsets: NVIDIA 570.144 `gsp_static_config.h`, pinned by
 * `gsp_abi_check.c` (`gpuPhysAddr` at 0, `gpuPhysFbAddr` 8,
 * `gpuPhysInstAddr` 16, `nvDomainBusDeviceFunc` 32, `maxUserVa` 72,
 * `pciConfigMirrorBase`/`Size` 80/84, `PCIDeviceID` 88, `PCISubDeviceID` 92,
 * `PCIRevisionID` 96, `bIsPrimary` 896, `bPreserveVideoMemoryAllocations`
 * 908; the last field, `hostPageSize` u64, sits at 920, so the structure is
 * 928 bytes). Values: reference §5.3 (nova-core) and NVIDIA's
 * `rpcGspSetSystemInfo_v17_00` (vgpu/rpc.c); everything else is 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { chipRegisters } from "../registers/bind.ts";
 * import { encodeGspSystemInfo, GSP_SYSTEM_INFO } from "./system_info.ts";
 * const bytes = encodeGspSystemInfo({
 *   chip: "tu102",
 *   bar0: 0xf600_0000n, bar1: 0xe000_0000n, bar3: 0xf000_0000n,
 *   bdf: "0000:01:00.0",
 *   vendor: 0x10de, device: 0x1e07, subsystemVendor: 0x10de, subsystemDevice: 0x12a4, revision: 0xa1,
 * });
 * const view = new DataView(bytes.buffer);
 * assert.equal(bytes.length, GSP_SYSTEM_INFO.size);
 * assert.equal(view.getUint32(GSP_SYSTEM_INFO.pciDeviceId, true), 0x1e0710de);
 * assert.equal(view.getBigUint64(GSP_SYSTEM_INFO.nvDomainBusDeviceFunc, true), 0x100n);
 * const mirror = chipRegisters("tu102").PCFG.PCFG.address;
 * assert.equal(view.getUint32(GSP_SYSTEM_INFO.pciConfigMirrorBase, true), mirror);
 * ```
 *
 * @module
 */

import type { ChipInfo } from "../chips/chips.ts";
import { chipRegisters } from "../registers/bind.ts";
import { PCI_CONFIG_MIRROR_SIZE } from "../registers/pcfg.ts";
import type { GspMessageQueues } from "./msgq.ts";
import { RPC_FUNCTION } from "./rpc.ts";

/** `GspSystemInfo` field offsets (570.144). */
export const GSP_SYSTEM_INFO = {
  size: 928,
  gpuPhysAddr: 0,
  gpuPhysFbAddr: 8,
  gpuPhysInstAddr: 16,
  nvDomainBusDeviceFunc: 32,
  maxUserVa: 72,
  pciConfigMirrorBase: 80,
  pciConfigMirrorSize: 84,
  pciDeviceId: 88,
  pciSubDeviceId: 92,
  pciRevisionId: 96,
  bIsPrimary: 896,
  bPreserveVideoMemoryAllocations: 908,
  hostPageSize: 920,
} as const;

/** `maxUserVa`: 2^47 − 4096, as nova-core sends it. */
export const MAX_USER_VA = (1n << 47n) - 4096n;

/** What the driver knows about the GPU. */
export interface GspSystemInfoInit {
  /** The chip (places the PCI config mirror). */
  readonly chip: string | ChipInfo;
  /** BAR0's bus address. */
  readonly bar0: bigint;
  /** BAR1's bus address (the framebuffer aperture). */
  readonly bar1: bigint;
  /** BAR3's bus address (instance memory). */
  readonly bar3: bigint;
  /** PCI address `DDDD:BB:DD.F`. */
  readonly bdf: string;
  /** PCI vendor id. */
  readonly vendor: number;
  /** PCI device id. */
  readonly device: number;
  /** PCI subsystem vendor id. */
  readonly subsystemVendor: number;
  /** PCI subsystem device id. */
  readonly subsystemDevice: number;
  /** PCI revision id. */
  readonly revision: number;
  /** The host's page size; default 4096. */
  readonly hostPageSize?: number;
}

/**
 * `nvDomainBusDeviceFunc` as NVIDIA's driver packs it
 * (`gpuEncodeDomainBusDevice`, 570.144 `g_gpu_nvoc.h`, called from
 * `nv_encode_pci_info` in `osinit.c`): domain in bits 63:32, bus in 15:8,
 * device (slot) in 7:0; the function number is not included. nova-core
 * sends Linux's `bus << 8 | devfn` instead, which agrees only for slot 0,
 * function 0 (every discrete GPU's usual address).
 *
 * @param bdf `DDDD:BB:DD.F`.
 * @returns The packed id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { packBdf } from "./system_info.ts";
 * assert.equal(packBdf("0001:02:03.4"), 0x1_0000_0203n);
 * assert.equal(packBdf("0000:01:00.0"), 0x100n);
 * ```
 */
export function packBdf(bdf: string): bigint {
  const match = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-1][0-9a-f])\.([0-7])$/i.exec(bdf);
  if (!match) throw new RangeError(`"${bdf}" is not a PCI address DDDD:BB:DD.F`);
  const [domain, bus, slot] = match.slice(1, 4).map((part) => parseInt(part, 16));
  return (BigInt(domain) << 32n) | BigInt((bus << 8) | slot);
}

/**
 * Encode `GspSystemInfo`.
 *
 * @param init What the driver knows.
 * @returns 928 bytes.
 */
export function encodeGspSystemInfo(init: GspSystemInfoInit): Uint8Array<ArrayBuffer> {
  const s = GSP_SYSTEM_INFO;
  const bytes = new Uint8Array(s.size);
  const v = new DataView(bytes.buffer);
  const pcfg = chipRegisters(init.chip).PCFG;
  const mirror = pcfg.PCFG.present ? pcfg.PCFG : pcfg.EP_PCFGM.present ? pcfg.EP_PCFGM : undefined;
  v.setBigUint64(s.gpuPhysAddr, init.bar0, true);
  v.setBigUint64(s.gpuPhysFbAddr, init.bar1, true);
  v.setBigUint64(s.gpuPhysInstAddr, init.bar3, true);
  v.setBigUint64(s.nvDomainBusDeviceFunc, packBdf(init.bdf), true);
  v.setBigUint64(s.maxUserVa, MAX_USER_VA, true);
  v.setUint32(s.pciConfigMirrorBase, mirror?.address ?? 0, true);
  v.setUint32(s.pciConfigMirrorSize, mirror ? PCI_CONFIG_MIRROR_SIZE : 0, true);
  v.setUint32(s.pciDeviceId, ((init.device << 16) | init.vendor) >>> 0, true);
  v.setUint32(s.pciSubDeviceId, ((init.subsystemDevice << 16) | init.subsystemVendor) >>> 0, true);
  v.setUint32(s.pciRevisionId, init.revision, true);
  v.setBigUint64(s.hostPageSize, BigInt(init.hostPageSize ?? 4096), true);
  return bytes;
}

/**
 * Send GSP_SET_SYSTEM_INFO (no reply).
 *
 * @param queues The message queues.
 * @param init What the driver knows.
 * @param options Abort signal.
 */
export function sendSystemInfo(
  queues: GspMessageQueues,
  init: GspSystemInfoInit,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  return queues.send(RPC_FUNCTION.GSP_SET_SYSTEM_INFO, encodeGspSystemInfo(init), options);
}
