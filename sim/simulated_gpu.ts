/**
 * `SimulatedGpu`: a Turing, Ampere, Ada or Hopper (GH100) GPU behind the same
 * {@linkcode Device} interface as a real one, built from one class per
 * hardware block on a routed BAR0 (`bus.ts`).
 *
 * - `bar0`: the {@linkcode SimBus}: PMC, PBUS, PFB, GC6, FUSE, PROM, PDISP
 *   (with a display) and the GSP and SEC2 falcons (`falcon.ts`), plus any
 *   blocks the options add. Unmodelled reads answer `0xbad001xx`; writes the
 *   hardware would not take are recorded ({@linkcode SimulatedGpu.violations}).
 * - `config`: PCI configuration space with FLR advertised (`config_space.ts`).
 * - `dma`: buffers mapped into simulated system memory at IOVAs (`dma.ts`).
 * - `clock`: virtual by default (a {@linkcode ManualClock}: tests are instant
 *   while the modelled hardware time is counted); `realistic: true` uses the
 *   system clock and waits the figures of `latency.ts`.
 * - `reset`: the reset capability ({@linkcode DeviceReset}): function-level
 *   and secondary bus reset, each clearing the falcons, the GSP and WPR2;
 *   config space then answers all ones for a modelled while and GFW boot runs
 *   again. Re-enumeration (remove, rescan) resets nothing but finds a GPU that
 *   dropped off the bus. `refusal` says why a method cannot run: a read-only
 *   device, a board without FLR, a device id the kernel never bus-resets
 *   (H100s), an audio function on the bus not bound to vfio-pci. Quirks
 *   ({@linkcode SimQuirks}) model GPUs that never come back from FLR until a
 *   bus reset, that drop off the bus after a reset, or never come back.
 * - {@linkcode SimulatedGpu.residue}: what a clean unwind should have removed.
 * - {@linkcode SimulatedGpu.save} / {@linkcode SimulatedGpu.open}: the
 *   persistent state (WPR2, falcons, scratch registers, fuses, chip) in a
 *   file, so that a boot and a later unload in another process work on the
 *   same GPU.
 * - `faults`: fault points (`faults.ts`), such as `bus-fall-off`.
 *
 * @example Identify the chip, wait for GFW boot after a reset
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedGpu } from "./simulated_gpu.ts";
 * import { chipRegisters } from "../registers/bind.ts";
 *
 * await using gpu = await SimulatedGpu.create({ chip: "ga104" });
 * const regs = chipRegisters("ga104");
 * assert.equal(regs.PMC.BOOT_42.read(gpu.bar0).IMPLEMENTATION, 4);
 * await gpu.reset.functionLevel();
 * const progress = regs.PGC6.AON_SECURE_SCRATCH_GROUP_05_0_GFW_BOOT;
 * await gpu.bar0.poll(progress.address, (v) => (v & 0xff) === 0xff, { timeoutMs: 4000 });
 * assert(gpu.clock.now() >= 230); // modelled time, no real waiting
 * assert.deepEqual(gpu.violations(), []);
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { getLogger } from "npm:@logtape/logtape@2.4.2";
import { DeviceError, FalconryError } from "../errors.ts";
import { bufferSource } from "../firmware/byte_source.ts";
import { forgeVbios, type ForgeVbiosOptions } from "../firmware/forge/vbios.ts";
import { extractFwsec } from "../firmware/fwsec/extract.ts";
import { type Clock, ManualClock, systemClock } from "../pci/clock.ts";
import {
  type ConfigSpace,
  type Device,
  type DeviceInfo,
  type DeviceReset,
  PCI_CONFIG,
  type ResetMethod,
} from "../pci/device.ts";
import { ResetRefusedError } from "../pci/reset_error.ts";
import { describeQuirk, type ResetQuirk, resetQuirksFor } from "../pci/reset_quirks.ts";
import type { Mmio } from "../pci/mmio.ts";
import { findByOffset } from "../registers/catalog.ts";
import type { SimBlock, SimResetKind as _SimResetKind } from "./block.ts";
import {
  isSimPersistent,
  isSimResidueSource,
  type SimResidue,
  type SimResidueSource,
} from "./block_extensions.ts";
import { Gc6Block } from "./blocks/gc6.ts";
import { FuseBlock } from "./blocks/fuse.ts";
import { PbusBlock } from "./blocks/pbus.ts";
import { PcfgBlock } from "./blocks/pcfg.ts";
import { PdispBlock } from "./blocks/pdisp.ts";
import { PfbBlock } from "./blocks/pfb.ts";
import { PmcBlock } from "./blocks/pmc.ts";
import { PromBlock } from "./blocks/prom.ts";
import { SimBus, type SimViolation } from "./bus.ts";
import {
  type FuseEngine,
  MAX_FUSE_VERSION,
  type SimChipModel,
  simChipModel,
  type SimChipModelOptions,
} from "./chip_model.ts";
import { PCIE_CAPABILITY_OFFSET, SIM_SUBSYSTEM_DEVICE, SimConfigSpace } from "./config_space.ts";
import { faultingDmaView, SimDmaAllocator } from "./dma.ts";
import { FaultInjector } from "./faults.ts";
import { SimFalcon, type SimFalconEngine, type SimFalconOptions } from "./falcon.ts";
import { REALISTIC_LATENCY, type SimLatency, spinWait } from "./latency.ts";
import { SystemMemory } from "./system_memory.ts";
import { firmwareFiles } from "../chips/firmware_files.ts";
import { SimExecution } from "./execution/execution_model.ts";
import { firmwareRoleOf } from "./execution/firmware_set.ts";
import {
  forgedFirmwareFiles,
  type SimFirmwareFiles,
  SimFirmwareSet,
} from "./execution/firmware_set.ts";
import type { GspRmHost, GspRmHostSnapshot } from "./execution/gsp_rm_host.ts";
import { notifyingClock, SimManualClock, type TickingClock } from "./execution/sim_clock.ts";

const log = getLogger(["falconry", "sim", "simulated_gpu"]);

/**
 * PCI device ids whose GPUs are reported never to come back from an FLR
 * until a bus reset (tinygrad/tinygrad#18199, GB202 boards; listed as
 * unconfirmed in `../shared/reference/resets.md` §6). Give one as
 * `pciDeviceId`, or set `quirks.flrNeverReturns`, to model such a GPU.
 */
export const FLR_NEVER_RETURNS_DEVICE_IDS: readonly number[] = Object.freeze([
  0x2b85,
  0x2b87,
  0x2b8c,
]);

/** Quirks of the modelled board, and what shares its PCI bus (saved with the GPU). */
export interface SimQuirks {
  /** The GPU never comes back from an FLR; only a bus reset (or power cycle) revives it. */
  flrNeverReturns?: boolean;
  /** PCIe DEVCAP does not advertise FLR (bit 28 clear): a function-level reset is refused. */
  noFlr?: boolean;
  /**
   * A secondary bus reset is refused, as the kernel refuses it for H100s
   * (`quirk_nvidia_no_bus_reset`). Default: the device id's entry in the
   * quirk table (`pci/reset_quirks.ts`).
   */
  noBusReset?: boolean;
  /**
   * The GPU's HDA audio function (`.1`) shares the bus, bound to this driver
   * (`snd_hda_intel`, …). Unless it is `vfio-pci`, a bus reset of the GPU
   * alone is refused, as the kernel and VFIO refuse it. Default: no audio function.
   */
  audioFunctionDriver?: string;
  /** After any reset the GPU never answers again: only a power cycle brings it back. */
  neverReturns?: boolean;
  /** After a reset the GPU drops off the bus: it answers again once re-enumerated. */
  dropsOffAfterReset?: boolean;
}

/**
 * What a reset left the function waiting for before it answers again:
 * a bus reset (stuck after FLR), a re-enumeration (dropped off the bus), or
 * a power cycle (never returns).
 */
type SimLostUntil = "bus-reset" | "rescan" | "power";

/**
 * The quirk-table entry (`pci/reset_quirks.ts`) that forbids a bus reset of
 * the modelled device id, as the kernel's `quirk_nvidia_no_bus_reset` does
 * for ids `0x2340`–`0x237f`.
 */
function noBusResetQuirk(model: SimChipModel): ResetQuirk | undefined {
  return resetQuirksFor(model.pciVendorId, model.pciDeviceId)
    .find((quirk) => quirk.kind === "no-bus-reset");
}

/** `PCI_EXP_DEVCAP` and its FLR bit (28), `PCI_EXP_DEVCTL` and `BCR_FLR` (15). */
const DEVCAP = PCIE_CAPABILITY_OFFSET + 4;
const DEVCAP_FLR = 1 << 28;
const DEVCTL = PCIE_CAPABILITY_OFFSET + 8;
const DEVCTL_BCR_FLR = 0x8000;

/**
 * Config space as a board without FLR shows it: DEVCAP bit 28 reads 0 and
 * DEVCTL's BCR_FLR is not writable, at every access width.
 */
function withoutFlrCapability(config: ConfigSpace): ConfigSpace {
  // The 32-bit words holding DEVCAP and DEVCTL, masked: reads clear the bit, writes drop it.
  const mask = (word: number, bit: number) => (at: number, width: number, value: number) => {
    const shift = (at - word) * 8;
    if (at > word + 3 || at + width <= word) return value;
    return shift >= 0 ? value & ~(bit >>> shift) : value & ~(bit << -shift);
  };
  const readMask = mask(DEVCAP, DEVCAP_FLR);
  const writeMask = mask(DEVCTL, DEVCTL_BCR_FLR);
  const read = (at: number, width: number, value: number) => readMask(at, width, value) >>> 0;
  const write = (at: number, width: number, value: number) => writeMask(at, width, value) >>> 0;
  return {
    size: config.size,
    read8: (at) => read(at, 1, config.read8(at)),
    read16: (at) => read(at, 2, config.read16(at)),
    read32: (at) => read(at, 4, config.read32(at)),
    write8: (at, value) => config.write8(at, write(at, 1, value)),
    write16: (at, value) => config.write16(at, write(at, 2, value)),
    write32: (at, value) => config.write32(at, write(at, 4, value)),
  };
}

/** Execution models for the falcons: what a started falcon runs (see `falcon.ts` `onStart`). */
export type SimFalconModels = Partial<Record<SimFalconEngine, SimFalconOptions["onStart"]>>;

/** Options for {@linkcode SimulatedGpu}. */
export interface SimulatedGpuOptions extends SimChipModelOptions {
  /**
   * Chip name (`"ga102"`, `"tu116"`, …): every Turing, Ampere and Ada chip, and
   * `"gh100"`, which boots through its FSP (`execution/fsp.ts`).
   */
  chip: string;
  /**
   * The VBIOS in the PROM: bytes, or (with {@linkcode SimulatedGpu.create}
   * only) a file path. Default: one forged for the chip (version-2
   * descriptor on Turing and GA100; on GA10x and Ada version 3 with an
   * all-zero fuse-version-0 signature, as on production boards).
   */
  vbios?: Uint8Array | string;
  /** Sleep the real-hardware figures on the system clock instead of a virtual clock. */
  realistic?: boolean;
  /** A clock of your own (overrides `realistic`'s choice). */
  clock?: Clock;
  /** PCI address reported in `info` (default `0000:01:00.0`). */
  bdf?: string;
  /** Refuse every BAR0 write, as the read-only sysfs backend does. */
  readOnly?: boolean;
  /** The GPU has just been powered on: GFW boot is still running (default: finished long ago). */
  justPoweredOn?: boolean;
  /** Board quirks. */
  quirks?: SimQuirks;
  /**
   * Execution models for the GSP and SEC2 falcons, over the built-in one
   * (`execution/`: FWSEC, Booter, SEC2-RTOS's resume, GSP-RM), per engine.
   */
  falconModels?: SimFalconModels;
  /**
   * The firmware files the falcons recognise, by name
   * (`booter_load-570.144.bin`, …; see `execution/firmware_set.ts`). Default:
   * the forged set of `forgedFirmwareFiles(chip)`. With
   * {@linkcode SimulatedGpu.create}, `firmwareDir` reads the chip's real files.
   */
  firmware?: SimFirmwareFiles;
  /**
   * With {@linkcode SimulatedGpu.create} and {@linkcode SimulatedGpu.open}
   * only: a firmware root (`~/.cache/falconry/firmware`) whose
   * `nvidia/<chip>/gsp/*-570.144.bin` files the falcons recognise, added to
   * `firmware`. The folder must exist; missing files are skipped.
   */
  firmwareDir?: string;
  /** More blocks on the bus (their ranges must not overlap the built-in ones). */
  blocks?: readonly SimBlock[];
  /** How many BAR0 accesses the log keeps (default 4096). */
  logCapacity?: number;
}

/** A write a block took but the hardware ignores, in the block's own words (the falcons'). */
export interface SimBlockViolation {
  /** Always `refused-by-block`. */
  readonly kind: "refused-by-block";
  /** The block. */
  readonly block: string;
  /** What it refused. */
  readonly detail: string;
}

/** Where the VBIOS came from, as a save file records it. */
type VbiosOrigin =
  | { kind: "forged" }
  | { kind: "file"; path: string }
  | { kind: "bytes"; base64: string };

/** How `create` and `open` tell the constructor where the VBIOS came from. */
const VBIOS_ORIGIN = Symbol("vbiosOrigin");
/** How `create` and `open` tell the constructor which firmware folder they read. */
const FIRMWARE_DIR = Symbol("firmwareDir");
type InternalOptions = SimulatedGpuOptions & {
  [VBIOS_ORIGIN]?: VbiosOrigin;
  [FIRMWARE_DIR]?: string;
};

/** The 570.144 firmware files of a chip under a firmware root; the root must be a folder. */
async function readFirmwareDir(dir: string, chipName: string): Promise<SimFirmwareFiles> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (e) {
    throw new FalconryError(`${dir}: cannot read the firmware folder: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (!info.isDirectory) throw new FalconryError(`${dir}: the firmware folder is not a folder`);
  const chip = simChipModel(chipName).chip;
  const files: Record<string, Uint8Array> = {};
  for (const file of firmwareFiles(chip, "570.144")) {
    // Files the simulated GPU runs no model of (Ada's scrubber) stay unread.
    if (!firmwareRoleOf(file.path)) continue;
    try {
      files[file.path] = await Deno.readFile(`${dir}/${file.path}`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        throw new FalconryError(`${dir}/${file.path}: ${(e as Error).message}`, { cause: e });
      }
    }
  }
  return files;
}

/** A VBIOS file's bytes; a failure names the file. */
async function readVbiosFile(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new FalconryError(`${path}: cannot read the VBIOS: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** The save file's content. */
interface SavedGpu {
  format: typeof SAVE_FORMAT;
  version: 1;
  chip: string;
  model: Pick<SimChipModelOptions, "fuseVersions" | "pciDeviceId" | "fbSizeMiB">;
  quirks: SimQuirks;
  vbios: VbiosOrigin;
  clockMs: number;
  stuckAfterFlr: boolean;
  /** What a reset left the function waiting for (absent in older files: `stuckAfterFlr`). */
  lostUntil?: SimLostUntil;
  fallenOff: boolean;
  blocks: Record<string, unknown>;
  /** GSP-RM's state and where the firmware came from (absent in older files). */
  execution?: { gspRm: GspRmHostSnapshot; firmwareDir: string | null };
}

const SAVE_FORMAT = "falconry-simulated-gpu";

/** A save file that cannot be reopened. */
export class SimSaveFileError extends FalconryError {
  /** The file. */
  readonly path: string;

  /**
   * Build the error.
   *
   * @param path The file.
   * @param reason What is wrong.
   */
  constructor(path: string, reason: string) {
    super(`${path}: not a simulated GPU save file: ${reason}`);
    this.path = path;
  }
}

/** The VBIOS forged for a chip when none is given. */
function forgedVbiosOptions(model: SimChipModel): ForgeVbiosOptions {
  switch (model.chip.family) {
    case "ga100":
      return { ifr: 2, descriptorVersion: 2 };
    case "ga10x":
    case "ad10x":
      return { descriptorVersion: 3, signatureVersions: 0b11, zeroSignatures: [0] };
    default:
      return { descriptorVersion: 2 };
  }
}

/**
 * The fuse version a board with this VBIOS must have: the highest version
 * for which the FWSEC image carries a non-zero signature (signature *k*
 * belongs to the *k*-th set bit of the descriptor's `signatureVersions`).
 * Computed here from the reference, not with the driver's selection code.
 */
function fuseVersionFromVbios(vbios: Uint8Array): number | undefined {
  let fwsec;
  try {
    fwsec = extractFwsec(bufferSource(vbios, "VBIOS"));
  } catch {
    return undefined;
  }
  if (!("signatureVersions" in fwsec.descriptor)) return undefined;
  const { signatureVersions } = fwsec.descriptor;
  let k = 0;
  let best: number | undefined;
  for (let version = 0; version < MAX_FUSE_VERSION; version++) {
    if (!(signatureVersions & (1 << version))) continue;
    const signature = fwsec.signatures[k++];
    if (signature && signature.some((b) => b !== 0)) best = version;
  }
  return best;
}

function residueOfFalcon(falcon: SimFalcon): SimResidue[] {
  const out: SimResidue[] = [];
  if (falcon.riscvActive) {
    out.push({ block: falcon.name, what: "the RISC-V core is active (GSP-RM still running)" });
  } else if (falcon.isRunning) {
    out.push({ block: falcon.name, what: "the CPU is running" });
  } else if (!falcon.wasResetSinceStart) {
    out.push({ block: falcon.name, what: "started and not reset since" });
  }
  return out;
}

/** A simulated GPU. */
export class SimulatedGpu implements Device {
  /** What the device is. */
  readonly info: DeviceInfo;
  /** The register BAR: the routed bus (or a read-only view of it). */
  readonly bar0: Mmio;
  /** Configuration space. */
  readonly config: ConfigSpace;
  /** DMA buffers mapped into simulated system memory. */
  readonly dma: SimDmaAllocator;
  /** Whether BAR0 writes are refused. */
  readonly readOnly: boolean;
  /** The device clock. */
  readonly clock: Clock;
  /** Function-level and bus reset, re-enumeration, and why any of them cannot run. */
  readonly reset: DeviceReset;

  /** The chip model: ids, FB size, fuses. */
  readonly model: SimChipModel;
  /** The bus, with its accounting. */
  readonly bus: SimBus;
  /** System memory as the GPU sees it. */
  readonly memory: SystemMemory;
  /** Fault points armed on this GPU. */
  readonly faults: FaultInjector;
  /** The modelled durations. */
  readonly latency: SimLatency;
  /** The PBUS block (scratch registers). */
  readonly pbus: PbusBlock;
  /** The PFB block (WPR2, sysmem flush). */
  readonly pfb: PfbBlock;
  /** The GC6 block (GFW boot, usable FB size, boot stage handoff). */
  readonly gc6: Gc6Block;
  /** The PROM block (the VBIOS). */
  readonly prom: PromBlock;
  /** The falcons. */
  readonly falcons: Readonly<Record<SimFalconEngine, SimFalcon>>;
  /** The execution model: FWSEC, Booter, GSP-RM, the firmware it recognises. */
  readonly execution: SimExecution;

  readonly #config: SimConfigSpace;
  readonly #blocks: readonly SimBlock[];
  readonly #quirks: SimQuirks;
  readonly #vbiosOrigin: VbiosOrigin;
  readonly #firmwareDir: string | null;
  readonly #residueSources: SimResidueSource[] = [];
  #configReadyAt = -Infinity;
  #busMaster = true;
  #savedConfig?: Uint8Array;
  #memoryDecoding = true;
  #lostUntil: SimLostUntil | undefined;
  #disposed = false;

  /**
   * Build a simulated GPU (the VBIOS, if given, as bytes; use
   * {@linkcode SimulatedGpu.create} to name a file).
   *
   * @param options Chip, VBIOS, fuses, clock, quirks, models.
   * @throws {UnknownSimChipError} For a chip the simulator does not model.
   * @throws {FalconryError} For a VBIOS path (use `create`) or one larger than the PROM window.
   */
  constructor(options: SimulatedGpuOptions) {
    if (typeof options.vbios === "string") {
      throw new FalconryError(
        `SimulatedGpu: the VBIOS ${options.vbios} is a path; use SimulatedGpu.create() to read it`,
      );
    }
    if (
      options.firmwareDir !== undefined && (options as InternalOptions)[FIRMWARE_DIR] === undefined
    ) {
      throw new FalconryError(
        `SimulatedGpu: firmwareDir ${options.firmwareDir} is a folder; use SimulatedGpu.create() ` +
          "to read it, or give the files' bytes as firmware",
      );
    }
    const probe = simChipModel(options.chip, { pciDeviceId: options.pciDeviceId });
    const vbios = options.vbios ?? forgeVbios(forgedVbiosOptions(probe)).bytes;
    this.#vbiosOrigin = (options as InternalOptions)[VBIOS_ORIGIN] ??
      (options.vbios === undefined
        ? { kind: "forged" }
        : { kind: "bytes", base64: Buffer.from(options.vbios).toString("base64") });
    const fuseDefault = options.vbios !== undefined && options.fuseVersion === undefined &&
        probe.fuseVersions !== undefined
      ? fuseVersionFromVbios(vbios)
      : undefined;
    this.model = simChipModel(options.chip, {
      ...options,
      fuseVersion: options.fuseVersion ?? fuseDefault,
    });
    this.#quirks = {
      ...options.quirks,
      flrNeverReturns: options.quirks?.flrNeverReturns ??
        FLR_NEVER_RETURNS_DEVICE_IDS.includes(this.model.pciDeviceId),
      noBusReset: options.quirks?.noBusReset ?? noBusResetQuirk(this.model) !== undefined,
    };
    this.latency = REALISTIC_LATENCY;
    // GSP-RM runs as time passes: the virtual and realistic clocks tell the execution model
    // when it does. A clock of your own is used as given (GSP-RM then runs on doorbells).
    const ticking: TickingClock | undefined = options.clock
      ? (options.clock instanceof SimManualClock ? options.clock : undefined)
      : options.realistic
      ? notifyingClock(systemClock)
      : new SimManualClock();
    this.clock = options.clock ?? ticking!;
    this.#firmwareDir = (options as InternalOptions)[FIRMWARE_DIR] ?? null;
    this.readOnly = options.readOnly ?? false;
    this.memory = new SystemMemory();
    this.dma = new SimDmaAllocator(this.memory);
    this.faults = new FaultInjector();

    const clock = this.clock;
    const promCost = this.latency.promReadMs;
    const charge = clock instanceof ManualClock
      ? () => clock.advance(promCost)
      : options.realistic
      ? () => spinWait(promCost)
      : undefined;
    this.pbus = new PbusBlock(this.model);
    this.pfb = new PfbBlock(this.model);
    this.gc6 = new Gc6Block(this.model, clock, this.latency.gfwBootMs);
    if (!options.justPoweredOn) this.gc6.startGfwBoot(clock.now() - this.latency.gfwBootMs);
    this.prom = new PromBlock(this.model.chip, vbios, charge);
    const deviceMemory = faultingDmaView(this.memory, this.faults, () => this.#busMaster);
    this.execution = new SimExecution({
      model: this.model,
      board: this.model.board,
      clock,
      latency: this.latency,
      faults: this.faults,
      dma: deviceMemory,
      vbios,
      firmware: new SimFirmwareSet(
        this.model.chip.chipsetId,
        options.firmware ?? forgedFirmwareFiles(this.model.chip),
      ),
      pfb: this.pfb,
      pbus: this.pbus,
      gc6: this.gc6,
      blocks: () => this.#blocks,
      falcons: () => this.falcons,
    });
    const execution = this.execution;
    const falcon = (engine: SimFalconEngine) =>
      new SimFalcon({
        chip: this.model.chip,
        engine,
        clock,
        memory: deviceMemory,
        onStart: options.falconModels?.[engine] ?? ((start) => execution.onStart(engine, start)),
        onReset: (kind) => execution.onReset(engine, kind),
        // Hopper: the FSP holds the GSP's PRIV target mask until the FMC has started GSP-RM.
        privTargetMasked: engine === "GSP" ? execution.fsp?.gspMasked : undefined,
      });
    this.falcons = Object.freeze({ GSP: falcon("GSP"), SEC2: falcon("SEC2") });
    if (options.justPoweredOn) execution.fsp?.startSecureBoot(clock.now());
    ticking?.onTick(() => execution.tick());
    this.#residueSources.push(execution.gspRm);
    this.#config = new SimConfigSpace(this.model, {
      answering: () => this.#configAnswering(),
      // Without FLR in DEVCAP, BCR_FLR is an ordinary bit: setting it resets nothing.
      onFunctionLevelReset: () => this.#quirks.noFlr || this.#startReset("function"),
      // As falconry's VFIO backend leaves it after opening: memory decoding and bus master on.
      command: PCI_CONFIG.commandMemory | PCI_CONFIG.commandBusMaster,
      onCommandChange: (command) => {
        this.#busMaster = (command & PCI_CONFIG.commandBusMaster) !== 0;
        this.#memoryDecoding = (command & PCI_CONFIG.commandMemory) !== 0;
        if (this.bus) this.bus.memoryDecoding = this.#memoryDecoding;
      },
    });
    this.config = this.#quirks.noFlr ? withoutFlrCapability(this.#config) : this.#config;
    this.#blocks = [
      new PmcBlock(this.model),
      this.pbus,
      this.pfb,
      this.gc6,
      new FuseBlock(this.model),
      this.prom,
      ...(this.model.display ? [new PdispBlock(this.model)] : []),
      new PcfgBlock(this.model, this.#config),
      this.falcons.GSP,
      this.falcons.SEC2,
      execution.pgsp,
      ...(execution.fsp ? [execution.fsp] : []),
      ...(options.blocks ?? []),
    ];
    const chip = this.model.chip;
    this.bus = new SimBus(this.#blocks, {
      clock,
      name: `${chip.name} sim BAR0`,
      logCapacity: options.logCapacity,
      faults: this.faults,
      describe: (offset) => {
        const hit = findByOffset(chip, offset)[0];
        if (!hit) return undefined;
        const n = hit.instance.qualifiedName;
        return hit.instance.register.array ? `${n}(${hit.index})` : n;
      },
    });
    this.bus.memoryDecoding = this.#memoryDecoding;
    this.bar0 = this.readOnly ? this.#readOnlyView(options.bdf) : this.bus;
    this.info = Object.freeze({
      bdf: options.bdf ?? "0000:01:00.0",
      vendor: this.model.pciVendorId,
      device: this.model.pciDeviceId,
      subsystemVendor: this.model.pciVendorId,
      subsystemDevice: SIM_SUBSYSTEM_DEVICE,
      revision: this.model.pciRevision,
      class: this.model.pciClass,
      driver: null,
      iommuGroup: null,
      numaNode: null,
    });
    this.reset = Object.freeze({
      functionLevel: (signal?: AbortSignal) => this.#resetAndWait("function", signal),
      bus: (signal?: AbortSignal) => this.#resetAndWait("bus", signal),
      reenumerate: (signal?: AbortSignal) => this.#reenumerate(signal),
      refusal: (method: ResetMethod) => this.#refusal(method),
    });
    log.debug("simulated {chip} ({board}), fuse versions {fuses}", {
      chip: chip.name,
      board: this.model.board,
      fuses: JSON.stringify(this.model.fuseVersions ?? "none"),
    });
  }

  /**
   * Build a simulated GPU, reading the VBIOS from a file when `vbios` is a path.
   *
   * @param options As for the constructor; `vbios` may be a path.
   * @returns The GPU.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SimulatedGpu } from "./simulated_gpu.ts";
   * await using gpu = await SimulatedGpu.create({ chip: "tu116" });
   * assert.equal(gpu.info.device, 0x2182);
   * ```
   */
  static async create(options: SimulatedGpuOptions): Promise<SimulatedGpu> {
    const internal: InternalOptions = { ...options };
    if (typeof options.vbios === "string") {
      const path = options.vbios;
      internal.vbios = await readVbiosFile(path);
      internal[VBIOS_ORIGIN] = { kind: "file", path };
    }
    if (options.firmwareDir !== undefined) {
      internal.firmware = {
        ...options.firmware,
        ...await readFirmwareDir(options.firmwareDir, options.chip),
      };
      internal[FIRMWARE_DIR] = options.firmwareDir;
    }
    return new SimulatedGpu(internal);
  }

  #readOnlyView(bdf = "0000:01:00.0"): Mmio {
    const bus = this.bus;
    return {
      size: bus.size,
      name: `${bus.name} (read-only)`,
      read32: (offset) => bus.read32(offset),
      write32: (offset) => {
        throw new DeviceError(
          bdf,
          `write to BAR0 0x${offset.toString(16)} refused: the device is open read-only`,
        );
      },
      poll: (offset, predicate, options) => bus.poll(offset, predicate, options),
    };
  }

  #configAnswering(): boolean {
    if (this.#disposed) {
      throw new FalconryError(`${this.info.bdf}: the simulated GPU is closed`);
    }
    if (this.bus.fallenOff) return false;
    return this.#configReadyAt === -Infinity || this.clock.now() >= this.#configReadyAt;
  }

  /** Every block, the falcons included. */
  get blocks(): readonly SimBlock[] {
    return this.#blocks;
  }

  /** GSP-RM on this GPU (started by Booter-load). */
  get gspRm(): GspRmHost {
    return this.execution.gspRm;
  }

  /**
   * Apply a reset's effect at once: blocks and falcons reset, WPR2 cleared,
   * config space back to power-on values, BAR0 and config space silent
   * until the GPU is back, GFW boot restarting then. A quirky board may not
   * come back ({@linkcode SimQuirks}): until a bus reset, a re-enumeration
   * or a power cycle.
   */
  #startReset(kind: "function" | "bus"): void {
    const now = this.clock.now();
    for (const block of this.#blocks) block.reset?.(kind);
    this.#config.resetToPowerOn();
    const recovery = kind === "function" ? this.latency.flrMs : this.latency.busResetMs;
    if (this.#lostUntil !== "power") {
      if (this.#quirks.neverReturns) this.#lostUntil = "power";
      else if (this.#quirks.dropsOffAfterReset) this.#lostUntil = "rescan";
      else if (kind === "function" && this.#quirks.flrNeverReturns) this.#lostUntil = "bus-reset";
      else if (kind === "bus") this.#lostUntil = undefined;
    }
    this.#configReadyAt = this.#lostUntil ? Infinity : now + recovery;
    this.bus.silence(this.#configReadyAt);
    // Off the bus, the GPU itself still comes out of reset and runs devinit.
    this.gc6.startGfwBoot(this.#lostUntil === "rescan" ? now + recovery : this.#configReadyAt);
    log.info("{kind} reset at {now} ms; back at {ready} ms", {
      kind,
      now,
      ready: this.#configReadyAt,
    });
  }

  /** Why a reset method cannot run on this GPU (see {@linkcode DeviceReset.refusal}). */
  #refusal(method: ResetMethod): string | undefined {
    if (this.readOnly) {
      return "the device is open read-only (sysfs BAR0 mapping): bind it to vfio-pci and open " +
        "it writable to reset it";
    }
    if (method === "flr" && this.#quirks.noFlr) {
      return "the device does not advertise function-level reset (PCIe DEVCAP bit 28 is clear): " +
        "use a secondary bus reset";
    }
    if (method !== "bus") return undefined;
    if (this.#quirks.noBusReset) {
      const quirk = noBusResetQuirk(this.model);
      return quirk
        ? describeQuirk(quirk, this.info.bdf)
        : `${this.info.bdf} must not get a secondary bus reset (the board's quirk): ` +
          "power-cycle the host instead";
    }
    const audio = this.#quirks.audioFunctionDriver;
    if (audio !== undefined && audio !== "vfio-pci") {
      const fn = this.info.bdf.replace(/\.\d$/, ".1");
      return `${fn} (the GPU's HDA audio function) shares the bus and is bound to ${audio}: ` +
        `bind ${fn} to vfio-pci too, so that the bus can be reset with both functions`;
    }
    return undefined;
  }

  /** Reject with the refusal, before touching anything, when `method` cannot run. */
  #refuse(method: ResetMethod): void {
    const refusal = this.#refusal(method);
    if (refusal !== undefined) throw new ResetRefusedError(this.info.bdf, method, refusal);
  }

  async #resetAndWait(kind: "function" | "bus", signal?: AbortSignal): Promise<void> {
    this.#refuse(kind === "function" ? "flr" : "bus");
    const bdf = this.info.bdf;
    const what = kind === "function" ? "function-level reset" : "secondary bus reset";
    if (this.bus.fallenOff) {
      await this.clock.sleep(this.latency.resetGiveUpMs, signal);
      throw new DeviceError(
        bdf,
        `${what}: not ready ${this.latency.resetGiveUpMs}ms (config space reads all ones: the ` +
          "GPU has fallen off the bus)",
        "power-cycle the machine",
      );
    }
    // The kernel saves the header first; a function that does not answer keeps the last good copy.
    if (this.#configAnswering()) this.#savedConfig = this.#config.saveState();
    const saved = this.#savedConfig ?? this.#config.saveState();
    this.#startReset(kind);
    const wait = Math.min(this.#configReadyAt - this.clock.now(), this.latency.resetGiveUpMs);
    await this.clock.sleep(wait, signal);
    if (!this.#configAnswering()) {
      throw new DeviceError(
        bdf,
        `${what}: not ready ${this.latency.resetGiveUpMs}ms (vendor id reads 0xffff)`,
        this.#lostUntil === "rescan"
          ? "re-enumerate it (remove, then rescan)"
          : kind === "function"
          ? "try a secondary bus reset"
          : "power-cycle the machine",
      );
    }
    this.#config.restoreState(saved);
  }

  /**
   * Remove, then rescan: the GPU's state is untouched (this is no reset),
   * a function that dropped off the bus after a reset answers again, and
   * the kernel leaves the function as enumeration does, BARs assigned but
   * memory decoding and bus mastering off until a driver enables them.
   */
  async #reenumerate(signal?: AbortSignal): Promise<void> {
    this.#refuse("reenumerate");
    if (this.#configAnswering()) this.#savedConfig = this.#config.saveState();
    await this.clock.sleep(this.latency.rescanMs, signal);
    if (this.#lostUntil === "rescan") {
      this.#lostUntil = undefined;
      this.#configReadyAt = this.clock.now();
      this.bus.silence(this.#configReadyAt);
    }
    if (!this.#configAnswering()) {
      throw new DeviceError(
        this.info.bdf,
        "re-enumeration: the rescan did not find the device (its config space reads all ones)",
        "power-cycle the machine",
      );
    }
    if (this.#savedConfig) this.#config.restoreState(this.#savedConfig);
    this.#config.write16(PCI_CONFIG.command, 0);
  }

  /**
   * Cut the power and turn it on again: clears everything a warm reboot
   * keeps (WPR2 included) and brings back a GPU that fell off the bus. The
   * host then enables the function as before (its command register and BARs
   * are restored), and GFW boot runs.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SimulatedGpu } from "./simulated_gpu.ts";
   * await using gpu = new SimulatedGpu({ chip: "ad102" });
   * gpu.faults.arm("bus-fall-off");
   * assert.equal(gpu.bar0.read32(0), 0xffffffff);
   * gpu.faults.disarm("bus-fall-off");
   * gpu.powerCycle();
   * assert.notEqual(gpu.bar0.read32(0), 0xffffffff);
   * ```
   */
  powerCycle(): void {
    if (this.#configAnswering()) this.#savedConfig = this.#config.saveState();
    const saved = this.#savedConfig ?? this.#config.saveState();
    for (const block of this.#blocks) block.reset?.("power");
    this.#config.resetToPowerOn();
    this.#lostUntil = undefined;
    this.#configReadyAt = -Infinity;
    this.bus.powerOn();
    this.gc6.startGfwBoot(this.clock.now());
    this.#config.restoreState(saved);
  }

  /**
   * Writes the hardware would not have taken: the bus's (unmodelled and
   * read-only registers, writes while the GPU did not answer) and the
   * falcons' own.
   *
   * @returns The violations, bus first.
   */
  violations(): (SimViolation | SimBlockViolation)[] {
    const out: (SimViolation | SimBlockViolation)[] = [...this.bus.violations()];
    for (const falcon of Object.values(this.falcons)) {
      for (const detail of falcon.violations) {
        out.push({ kind: "refused-by-block", block: falcon.name, detail });
      }
    }
    for (const detail of this.execution.fsp?.violations ?? []) {
      out.push({ kind: "refused-by-block", block: "FSP", detail });
    }
    return out;
  }

  /**
   * The books: BAR0 reads and writes per block, PROM bytes read, DMA bytes
   * the device moved, each falcon's counters, and the modelled time.
   *
   * @returns A plain object, for tests and demos.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SimulatedGpu } from "./simulated_gpu.ts";
   * await using gpu = new SimulatedGpu({ chip: "tu102" });
   * gpu.bar0.read32(0);
   * assert.equal(gpu.stats().mmio.PMC.reads, 1);
   * ```
   */
  stats(): {
    mmio: Record<string, { reads: number; writes: number }>;
    promBytesRead: number;
    dmaBytesRead: number;
    dmaBytesWritten: number;
    falcons: Record<SimFalconEngine, SimFalcon["counters"]>;
    timeMs: number;
  } {
    return {
      mmio: this.bus.counts(),
      promBytesRead: this.prom.bytesRead,
      dmaBytesRead: this.memory.bytesRead,
      dmaBytesWritten: this.memory.bytesWritten,
      falcons: { GSP: this.falcons.GSP.counters, SEC2: this.falcons.SEC2.counters },
      timeMs: this.clock.now(),
    };
  }

  /**
   * Add something that reports residue (a firmware model, a test fixture).
   *
   * @param source The source.
   */
  addResidueSource(source: SimResidueSource): void {
    this.#residueSources.push(source);
  }

  /**
   * What a clean unwind should have removed: WPR2 set, a falcon running or
   * started and not reset, the GSP's RISC-V core active, live DMA mappings,
   * a registered sysmem flush page, and what added sources report.
   *
   * @returns One entry per leftover; empty for a clean GPU.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SimulatedGpu } from "./simulated_gpu.ts";
   * await using gpu = new SimulatedGpu({ chip: "ga102" });
   * assert.deepEqual(gpu.residue(), []);
   * const buffer = gpu.dma.alloc(4096);
   * gpu.pfb.setWpr2(0x5_fe00_0000, 0x5_ff00_0000);
   * assert.deepEqual(gpu.residue().map((r) => r.block), ["PFB", "DMA"]);
   * buffer[Symbol.dispose]();
   * ```
   */
  residue(): SimResidue[] {
    const out: SimResidue[] = [];
    for (const block of this.#blocks) {
      if (block instanceof SimFalcon) out.push(...residueOfFalcon(block));
      else if (isSimResidueSource(block)) out.push(...block.residue());
    }
    for (const m of this.memory.live) {
      out.push({
        block: "DMA",
        what: `live DMA mapping at IOVA 0x${m.iova.toString(16)} (${m.size} bytes)`,
      });
    }
    for (const source of this.#residueSources) out.push(...source.residue());
    return out;
  }

  /**
   * Save the persistent state to a file: chip, fuses, VBIOS origin, WPR2,
   * scratch registers, falcon states, the clock. DMA mappings belong to the
   * process and are not saved.
   *
   * @param path The file (written whole, then renamed into place).
   */
  async save(path: string): Promise<void> {
    const blocks: Record<string, unknown> = {};
    for (const block of this.#blocks) {
      if (isSimPersistent(block)) blocks[block.name] = block.snapshot();
    }
    const saved: SavedGpu = {
      format: SAVE_FORMAT,
      version: 1,
      chip: this.model.chip.name,
      model: {
        fuseVersions: this.model.fuseVersions as Record<FuseEngine, number> | undefined,
        pciDeviceId: this.model.pciDeviceId,
        fbSizeMiB: this.model.fbSize / 2 ** 20,
      },
      quirks: this.#quirks,
      vbios: this.#vbiosOrigin,
      clockMs: this.clock.now(),
      stuckAfterFlr: this.#lostUntil === "bus-reset",
      lostUntil: this.#lostUntil,
      fallenOff: this.bus.fallenOff,
      blocks,
      execution: { gspRm: this.execution.gspRm.snapshot(), firmwareDir: this.#firmwareDir },
    };
    const tmp = `${path}.tmp-${Deno.pid}`;
    await Deno.writeTextFile(tmp, JSON.stringify(saved));
    await Deno.rename(tmp, path);
  }

  /**
   * Reopen a GPU saved with {@linkcode SimulatedGpu.save}, in this or another process.
   *
   * @param path The save file.
   * @param options Clock and execution models for this process (the rest comes from the file).
   * @returns The GPU, in the saved state.
   * @throws {SimSaveFileError} For a file that is not a save file.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SimulatedGpu } from "./simulated_gpu.ts";
   * const path = await Deno.makeTempFile();
   * {
   *   await using gpu = new SimulatedGpu({ chip: "ga102" });
   *   gpu.pfb.setWpr2(0x5_fe00_0000, 0x5_ff00_0000);
   *   await gpu.save(path);
   * }
   * await using again = await SimulatedGpu.open(path);
   * assert.deepEqual(again.pfb.wpr2(), { start: 0x5_fe00_0000, end: 0x5_ff00_0000 });
   * await Deno.remove(path);
   * ```
   */
  static async open(
    path: string,
    options: Pick<
      SimulatedGpuOptions,
      | "realistic"
      | "clock"
      | "falconModels"
      | "blocks"
      | "bdf"
      | "readOnly"
      | "logCapacity"
      | "firmware"
      | "firmwareDir"
    > = {},
  ): Promise<SimulatedGpu> {
    let saved: SavedGpu;
    try {
      saved = JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw e;
      throw new SimSaveFileError(path, `not JSON (${(e as Error).message})`);
    }
    if (saved?.format !== SAVE_FORMAT || saved.version !== 1) {
      throw new SimSaveFileError(path, `format ${saved?.format} version ${saved?.version}`);
    }
    const vbios = saved.vbios.kind === "file"
      ? await readVbiosFile(saved.vbios.path)
      : saved.vbios.kind === "bytes"
      ? new Uint8Array(Buffer.from(saved.vbios.base64, "base64"))
      : undefined;
    const clock = options.clock ??
      (options.realistic ? undefined : new SimManualClock({ start: saved.clockMs }));
    const firmwareDir = options.firmwareDir ?? saved.execution?.firmwareDir ?? undefined;
    const internal: InternalOptions = {
      ...options,
      chip: saved.chip,
      clock,
      vbios,
      [VBIOS_ORIGIN]: saved.vbios,
      fuseVersions: saved.model.fuseVersions,
      pciDeviceId: saved.model.pciDeviceId,
      fbSizeMiB: saved.model.fbSizeMiB,
      quirks: saved.quirks,
    };
    if (firmwareDir !== undefined) {
      internal.firmware = {
        ...options.firmware,
        ...await readFirmwareDir(firmwareDir, saved.chip),
      };
      internal[FIRMWARE_DIR] = firmwareDir;
    }
    const gpu = new SimulatedGpu(internal);
    for (const block of gpu.#blocks) {
      const state = saved.blocks[block.name];
      if (state !== undefined && isSimPersistent(block)) block.restore(state);
    }
    const lostUntil = saved.lostUntil ?? (saved.stuckAfterFlr ? "bus-reset" : undefined);
    if (lostUntil) {
      gpu.#lostUntil = lostUntil;
      gpu.#configReadyAt = Infinity;
      gpu.bus.silence(Infinity);
      if (lostUntil !== "rescan") gpu.gc6.startGfwBoot(Infinity);
    }
    if (saved.execution) gpu.execution.gspRm.restore(saved.execution.gspRm);
    if (saved.fallenOff) gpu.bus.fallOff("saved while off the bus");
    return gpu;
  }

  /** Whether the GPU has been disposed. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Release the simulated GPU. The hardware state stays as it was (a real
   * GPU keeps WPR2 and running falcons when a process exits); DMA buffers
   * still live are reported by {@linkcode residue} until disposed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    this.bus.close();
    return Promise.resolve();
  }
}
