// The falcon driver (falcon/falcon.ts) against the simulator's falcons. The
// expectations are written from ../shared/reference/nova-core-boot.md §3.6,
// §3.7 and §8 (what lands where, which tag, which timeout), not from the
// driver's own load-plan code.

import assert from "node:assert/strict";
import { BootError, HardwareTimeoutError } from "../errors.ts";
import { booterLoadMap, parseBooter, patchBooter } from "../firmware/booter.ts";
import type { FalconLoadMap } from "../firmware/falcon_load.ts";
import { forgeBooter, forgeGenBootloader } from "../firmware/forge/hs_firmware.ts";
import { parseGenBootloader } from "../firmware/gen_bootloader.ts";
import { Falcon, FalconError, GpuStoppedAnsweringError } from "../falcon/mod.ts";
import type { DmaAllocator } from "../pci/device.ts";
import { chipRegisters, falconRegisters } from "../registers/bind.ts";
import type { FalconOutcome, FalconStart, SimFalconEngine } from "../sim/falcon.ts";
import { SimulatedGpu } from "../sim/simulated_gpu.ts";
import { FirmwareFormatError } from "../errors.ts";

type Model = (start: FalconStart) => FalconOutcome;

/** A simulated GPU whose `engine` runs `model`, recording every start. */
function rig(chip: string, engine: SimFalconEngine, model: Model = () => halt(0)) {
  const starts: FalconStart[] = [];
  const gpu = new SimulatedGpu({
    chip,
    falconModels: {
      [engine]: (start: FalconStart) => {
        starts.push(start);
        return model(start);
      },
    },
  });
  return { gpu, starts, falcon: new Falcon(gpu, chip, engine), clock: gpu.clock };
}

const halt = (mailbox0: number, mailbox1?: number, afterMs?: number): FalconOutcome => ({
  kind: "halt",
  mailbox0,
  mailbox1,
  afterMs,
});

/** The bytes a falcon memory should hold at `at`. */
function assertBytes(memory: Uint8Array, at: number, expected: Uint8Array, what: string) {
  const got = memory.subarray(at, at + expected.length);
  const i = got.findIndex((b, k) => b !== expected[k]);
  assert.equal(i, -1, `${what}: first difference at +0x${i.toString(16)}`);
}

Deno.test("reset on TU102 pulses ENGINE, waits for DMACTL scrubbing on the device clock, writes RM", async () => {
  const { gpu, falcon, clock } = rig("tu102", "SEC2");
  await using _gpu = gpu;
  const sim = gpu.falcons.SEC2;
  const before = sim.counters.resets;
  const t0 = clock.now();
  await falcon.reset();
  assert.equal(sim.counters.resets, before + 1);
  assert(!sim.inReset && !sim.isScrubbing);
  // 10 µs of reset hold, then scrubbing of 128 KiB at 1 µs per block: 0.512 ms of device time.
  assert(clock.now() - t0 >= 0.01 + 0.512, `only ${clock.now() - t0} ms passed`);
  const r = falconRegisters("tu102", "SEC2");
  assert.equal(r.RM.readRaw(gpu.bar0), chipRegisters("tu102").PMC.BOOT_0.readRaw(gpu.bar0));
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("reset on GA102 waits for HWCFG2 scrubbing and selects the Falcon core", async () => {
  const { gpu, falcon, starts } = rig("ga102", "GSP");
  await using _gpu = gpu;
  const r = falconRegisters("ga102", "GSP");
  assert.equal(r.RISCV_BCR_CTRL.read(gpu.bar0).CORE_SELECT, 1, "the sim starts on RISC-V");
  await falcon.reset();
  const bcr = r.RISCV_BCR_CTRL.read(gpu.bar0);
  assert.deepEqual([bcr.CORE_SELECT, bcr.VALID], [0, 1]);
  assert.equal(r.HWCFG2.read(gpu.bar0).MEM_SCRUBBING, 0);
  await falcon.run();
  assert.equal(starts[0].core, "falcon");
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("resetToRiscv leaves a GA102 GSP on the RISC-V core with VALID and BRFETCH", async () => {
  const { gpu, falcon, starts } = rig("ga102", "GSP", () => ({ kind: "riscv-active" }));
  await using _gpu = gpu;
  await falcon.resetToRiscv();
  const bcr = falconRegisters("ga102", "GSP").RISCV_BCR_CTRL.read(gpu.bar0);
  assert.deepEqual([bcr.CORE_SELECT, bcr.VALID, bcr.BRFETCH], [1, 1, 1]);
  falcon.writeMailboxes({ mailbox0: 0x1000, mailbox1: 0x1 });
  falcon.start();
  assert.equal(starts[0].core, "riscv");
  assert.deepEqual([starts[0].mailbox0, starts[0].mailbox1], [0x1000, 0x1]);
  await falcon.waitRiscvActive();
  assert(falcon.isRiscvActive());
  await falcon.reset();
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("PIO load of a forged Booter on TU102: the exact bytes, tags, secure bits and boot vector", async () => {
  const { gpu, falcon, starts } = rig("tu102", "SEC2", () => halt(0, 0x55, 3));
  await using _gpu = gpu;
  const booter = parseBooter(forgeBooter({ osCodeSize: 0x300, appCodeSizes: [0x2100] }));
  const fuse = falcon.signatureFuseVersion(
    booter.signatureParams.engineIdMask,
    booter.signatureParams.ucodeId,
  );
  assert.equal(fuse, 0);
  const { image, brom } = patchBooter(booter, fuse);
  await falcon.reset();
  await falcon.load(image, booterLoadMap(booter, { layout: "tu102" }), { brom });
  const result = await falcon.run({ mailbox0: 0xdead, mailbox1: 0xbeef });
  assert.deepEqual(result, { mailbox0: 0, mailbox1: 0x55 });

  // §3.7, Turing: OS code non-secure at CDOF (tags CDOF/256…), the app secure at A0CO (tags
  // A0CO/256…), OS data at DMEM 0, BOOTVEC = CDOF, no BROM registers.
  const s = starts[0];
  const lh = booter.loadHeader;
  const app = lh.apps[0];
  assertBytes(s.imem, lh.osCodeOffset, image.subarray(0, lh.osCodeSize), "OS code");
  assertBytes(
    s.imem,
    app.codeOffset,
    image.subarray(app.codeOffset, app.codeOffset + app.codeSize),
    "app",
  );
  assertBytes(
    s.dmem,
    0,
    image.subarray(lh.osDataOffset, lh.osDataOffset + lh.osDataSize),
    "OS data",
  );
  const expectedBlocks = new Map<number, { tag: number; secure: boolean; method: string }>();
  for (let b = 0; b < lh.osCodeSize / 256; b++) {
    expectedBlocks.set(lh.osCodeOffset / 256 + b, {
      tag: lh.osCodeOffset / 256 + b,
      secure: false,
      method: "pio",
    });
  }
  for (let b = 0; b < Math.ceil(app.codeSize / 256); b++) {
    expectedBlocks.set(app.codeOffset / 256 + b, {
      tag: app.codeOffset / 256 + b,
      secure: true,
      method: "pio",
    });
  }
  s.imemBlocks.forEach((block, i) =>
    assert.deepEqual(block, expectedBlocks.get(i), `IMEM block ${i}`)
  );
  assert.equal(s.dmemMethod, "pio");
  assert.equal(s.bootVector, lh.osCodeOffset);
  assert.equal(s.brom, undefined);
  assert.deepEqual([s.mailbox0, s.mailbox1, s.via, s.core], [0xdead, 0xbeef, "CPUCTL", "falcon"]);
  assert.equal(gpu.falcons.SEC2.counters.dmaBytesRead, 0);
  assert.equal(gpu.falcons.SEC2.counters.pioWordsRead, 0, "IMEMD/DMEMD are never read");
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("DMA load of a forged Booter on GA102: the same bytes at IMEM 0, tags by source, BROM programmed", async () => {
  const { gpu, falcon, starts } = rig("ga102", "SEC2");
  await using _gpu = gpu;
  const booter = parseBooter(
    forgeBooter({ signatureSize: 384, signatureCount: 3, fuseVersion: 3, ucodeId: 3 }),
  );
  const { engineIdMask, ucodeId } = booter.signatureParams;
  const fuse = falcon.signatureFuseVersion(engineIdMask, ucodeId);
  assert.equal(fuse, gpu.model.fuseVersions!.SEC2);
  const patched = patchBooter(booter, fuse);
  await falcon.reset();
  await falcon.load(patched.image, booterLoadMap(booter, { layout: "ga102" }), {
    brom: patched.brom,
  });
  assert.deepEqual(await falcon.run(), { mailbox0: 0, mailbox1: 0 });

  // §3.7, GA102: the app alone, secure, DMA'd from image offset A0CO into IMEM 0 (so tagged
  // A0CO/256…), OS data at DMEM 0, BOOTVEC = A0CO, BROM = (PLOC − DAOF, ENID, UCID, RSA3K).
  const s = starts[0];
  const lh = booter.loadHeader;
  const app = lh.apps[0];
  const image = patched.image;
  assertBytes(s.imem, 0, image.subarray(app.codeOffset, app.codeOffset + app.codeSize), "app");
  assertBytes(
    s.dmem,
    0,
    image.subarray(lh.osDataOffset, lh.osDataOffset + lh.osDataSize),
    "OS data",
  );
  const blocks = Math.ceil(app.codeSize / 256);
  s.imemBlocks.forEach((block, i) =>
    assert.deepEqual(
      block,
      i < blocks ? { tag: app.codeOffset / 256 + i, secure: true, method: "dma" } : undefined,
      `IMEM block ${i}`,
    )
  );
  assert.equal(s.dmemMethod, "dma");
  assert.equal(s.bootVector, app.codeOffset);
  assert.deepEqual(s.brom, {
    pkcDataOffset: booter.patchLocation - lh.osDataOffset,
    engineIdMask,
    ucodeId,
    modSel: 1,
  });
  // Context 0 coherent sysmem, physical; physical DMA without a context allowed; DMACTL 0.
  const r = falconRegisters("ga102", "SEC2");
  assert.deepEqual(
    [r.FBIF_TRANSCFG.decode(s.transcfg[0]).TARGET, r.FBIF_TRANSCFG.decode(s.transcfg[0]).MEM_TYPE],
    [1, 1],
  );
  assert.equal(r.FBIF_CTL.decode(s.fbifCtl).ALLOW_PHYS_NO_CTX, 1);
  assert.equal(r.DMACTL.decode(s.dmactl).REQUIRE_CTX, 0);
  // Every chunk is 256 bytes: the app's blocks and the OS data's, rounded up.
  const chunks = blocks + Math.ceil(lh.osDataSize / 256);
  assert.equal(gpu.falcons.SEC2.counters.dmaBytesRead, chunks * 256);
  assert.equal(gpu.falcons.SEC2.counters.pioWordsWritten, 0);
  assert.equal(gpu.dma.live, 0, "the staging buffer is unmapped after the load");
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("the signature fuse read turns the register's bit mask into a version", async () => {
  await using gpu = new SimulatedGpu({
    chip: "ad102",
    fuseVersions: { SEC2: 5, GSP: 2, NVDEC: 7 },
  });
  const sec2 = new Falcon(gpu, "ad102", "SEC2");
  const regs = chipRegisters("ad102");
  // The register holds a mask (version v: the low v bits set), not the version.
  assert.equal(regs.FUSE.OPT_FPF_SEC2_UCODE1_VERSION.at(2).readRaw(gpu.bar0), 0b11111);
  assert.equal(sec2.signatureFuseVersion(0x1, 3), 5);
  assert.equal(sec2.signatureFuseVersion(0x400, 1), 2);
  assert.equal(sec2.signatureFuseVersion(0x4, 16), 7);
  const bad = (() => {
    try {
      sec2.signatureFuseVersion(0x1, 17);
    } catch (e) {
      return e;
    }
  })();
  assert(bad instanceof FalconError && bad.operation === "read-signature-fuse");
  assert.match(String((bad.cause as Error).message), /ucode id must be 1\.\.16/);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("the TU102 HAL reads no fuse: version 0 on Turing and GA100", async () => {
  for (const chip of ["tu102", "ga100"]) {
    await using gpu = new SimulatedGpu({ chip });
    assert.equal(new Falcon(gpu, chip, "SEC2").signatureFuseVersion(0x1, 13), 0);
    assert.equal(gpu.stats().mmio.FUSE?.reads ?? 0, 0, chip);
  }
});

Deno.test("start → halt → mailboxes, after the model's run time on the device clock", async () => {
  const { gpu, falcon, clock } = rig("ga102", "GSP", () => halt(0xabc, 7, 50));
  await using _gpu = gpu;
  await falcon.reset();
  const t0 = clock.now();
  assert.deepEqual(await falcon.run({ mailbox0: 1 }), { mailbox0: 0xabc, mailbox1: 7 });
  assert(clock.now() - t0 >= 50);
  assert(falcon.isHalted());
  assert.deepEqual(falcon.readMailboxes(), { mailbox0: 0xabc, mailbox1: 7 });
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("start goes through CPUCTL_ALIAS when CPUCTL.ALIAS_EN is set", async () => {
  const { gpu, falcon, starts } = rig("ad102", "SEC2");
  await using _gpu = gpu;
  await falcon.reset();
  gpu.falcons.SEC2.setAliasEnabled(true);
  await falcon.run();
  assert.equal(starts[0].via, "CPUCTL_ALIAS");
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("a falcon that never halts times out after exactly 2 s of device time", async () => {
  const { gpu, falcon, clock } = rig("tu102", "SEC2", () => ({ kind: "hang" }));
  await using _gpu = gpu;
  await falcon.reset();
  const t0 = clock.now();
  const error = await falcon.run().then(() => undefined, (e) => e);
  assert(error instanceof FalconError && error instanceof BootError);
  assert.equal(error.step, "SEC2 falcon wait-halt");
  assert(error.cause instanceof HardwareTimeoutError);
  assert.equal(error.cause.timeoutMs, 2000);
  assert.equal(error.cause.register, "SEC2.NV_PFALCON_FALCON_CPUCTL");
  assert(Math.abs(clock.now() - t0 - 2000) < 1e-6, `${clock.now() - t0} ms`);
  assert(gpu.falcons.SEC2.isRunning);
  await falcon.reset();
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("an abort stops the halt wait at once, or midway, with the signal's reason as cause", async () => {
  const controller = new AbortController();
  const reason = new Error("user pressed Ctrl-C");
  const { gpu, falcon, clock } = rig("ga102", "SEC2", () => {
    controller.abort(reason); // aborted as the CPU starts: the wait never reads
    return { kind: "hang" };
  });
  await using _gpu = gpu;
  await falcon.reset();
  const t0 = clock.now();
  const error = await falcon.run({ signal: controller.signal }).then(() => undefined, (e) => e);
  assert(error instanceof FalconError && error.operation === "wait-halt");
  assert.equal(error.cause, reason);
  assert.equal(clock.now(), t0);

  // Midway: abort once 100 ms of device time have passed.
  await falcon.reset();
  const midway = new AbortController();
  const t1 = clock.now();
  const timer = setInterval(() => {
    if (clock.now() - t1 >= 100) midway.abort(reason);
  }, 1);
  try {
    const late = await falcon.run({ signal: midway.signal }).then(() => undefined, (e) => e);
    assert(late instanceof FalconError && late.cause === reason);
    assert(clock.now() - t1 >= 100 && clock.now() - t1 < 2000, `${clock.now() - t1} ms`);
  } finally {
    clearInterval(timer);
  }
  await falcon.reset();
  assert.deepEqual(gpu.residue(), []);
});

Deno.test("an abort during the reset pulse still releases ENGINE.RESET", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const falcon = new Falcon(gpu, "tu102", "GSP");
  const reason = new Error("stop");
  const error = await falcon.reset({ signal: AbortSignal.abort(reason) }).then(
    () => undefined,
    (e) => e,
  );
  assert(error instanceof FalconError && error.operation === "reset" && error.cause === reason);
  assert(!gpu.falcons.GSP.inReset);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("holdInReset keeps ENGINE.RESET set until the hold is disposed", async () => {
  await using gpu = new SimulatedGpu({ chip: "ga102" });
  const falcon = new Falcon(gpu, "ga102", "SEC2");
  {
    using held = await falcon.holdInReset();
    assert(gpu.falcons.SEC2.inReset && !held.released);
    // The sim lets ENGINE.RESET clear itself after 10 µs; hardware keeps the level bit set.
  }
  assert(!gpu.falcons.SEC2.inReset);
  await falcon.reset();
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("resetOnDispose unwinds a failed run: the falcon is reset, the error kept", async () => {
  const { gpu, falcon } = rig("tu102", "SEC2", () => ({ kind: "hang" }));
  await using _gpu = gpu;
  const error = await (async () => {
    await using _guard = falcon.resetOnDispose();
    await falcon.reset();
    await falcon.load(new Uint8Array(512), {
      imemSecure: { srcStart: 0, dstStart: 0, length: 256 },
      dmem: { srcStart: 256, dstStart: 0, length: 256 },
      bootAddress: 0,
    });
    await falcon.run();
  })().then(() => undefined, (e) => e);
  assert(error instanceof FalconError && error.operation === "wait-halt");
  assert.deepEqual(gpu.residue(), []);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("a DMA from an unmapped IOVA surfaces as a typed error, and the staging buffer is freed", async () => {
  const { gpu, falcon, clock } = rig("ga102", "GSP");
  await using _gpu = gpu;
  // A device whose DMA addresses point 1 TiB away from the memory: nothing is mapped there.
  const shifted: DmaAllocator = {
    alloc(size, options) {
      const buffer = gpu.dma.alloc(size, options);
      return {
        bytes: buffer.bytes,
        iova: buffer.iova + (1n << 40n),
        size: buffer.size,
        [Symbol.dispose]: () => buffer[Symbol.dispose](),
      };
    },
  };
  const broken = new Falcon({ bar0: gpu.bar0, clock: gpu.clock, dma: shifted }, "ga102", "GSP");
  await falcon.reset();
  const t0 = clock.now();
  const error = await broken.load(new Uint8Array(0x400), {
    imemSecure: { srcStart: 0, dstStart: 0, length: 0x200 },
    dmem: { srcStart: 0x200, dstStart: 0, length: 0x200 },
    bootAddress: 0,
  }).then(() => undefined, (e) => e);
  assert(error instanceof FalconError && error.operation === "dma-load");
  assert(error.cause instanceof HardwareTimeoutError);
  assert.equal(error.cause.register, "GSP.NV_PFALCON_FALCON_DMATRFCMD");
  assert(Math.abs(clock.now() - t0 - 2000) < 1e-6);
  assert((gpu.falcons.GSP.dmaError?.iova ?? 0n) >= 1n << 40n, "the sim saw the unmapped IOVA");
  assert.equal(gpu.dma.live, 0);
  await falcon.reset();
  assert.equal(gpu.falcons.GSP.dmaError, undefined);
  // The only violation is the sim's own record of the fault: nothing was written after it.
  const violations = gpu.violations();
  assert.equal(violations.length, 1, JSON.stringify(violations));
  assert.match(JSON.stringify(violations[0]), /DMA stopped/);
});

Deno.test("a load map that does not fit the image fails before any register is written", async () => {
  const { gpu, falcon } = rig("tu102", "SEC2");
  await using _gpu = gpu;
  await falcon.reset();
  const writes = gpu.stats().mmio["SEC2 falcon"]?.writes ?? 0;
  const map: FalconLoadMap = {
    imemSecure: { srcStart: 0x100, dstStart: 0x100, length: 0x1000 },
    dmem: { srcStart: 0, dstStart: 0, length: 0x100 },
    bootAddress: 0,
  };
  const error = await falcon.load(new Uint8Array(0x800), map, { file: "booter.bin" }).then(
    () => undefined,
    (e) => e,
  );
  assert(error instanceof FalconError && error.cause instanceof FirmwareFormatError);
  assert.equal(error.cause.field, "loadMap.imemSecure.length");
  assert.equal(error.cause.file, "booter.bin");
  assert.equal(gpu.stats().mmio["SEC2 falcon"]?.writes ?? 0, writes);
});

Deno.test("a GPU that falls off the bus during the halt wait is reported, not decoded", async () => {
  const { gpu, falcon, clock } = rig("ga102", "SEC2", () => {
    gpu.faults.arm("bus-fall-off");
    return { kind: "hang" };
  });
  await using _gpu = gpu;
  await falcon.reset();
  const t0 = clock.now();
  const error = await falcon.run().then(() => undefined, (e) => e);
  assert(error instanceof FalconError && error.cause instanceof GpuStoppedAnsweringError);
  assert.equal(error.cause.status, "no-response");
  assert.equal(error.cause.register, "SEC2.NV_PFALCON_FALCON_CPUCTL");
  assert.equal(clock.now(), t0, "the first unanswered read ends the wait");
});

Deno.test("the generic bootloader goes non-secure at the top of IMEM as HWCFG reports it, tags from STRT", async () => {
  const { gpu, falcon, starts } = rig("tu102", "GSP");
  await using _gpu = gpu;
  const bootloader = parseGenBootloader(forgeGenBootloader({ codeSize: 0x280 }));
  const { startTag } = bootloader.descriptor;
  await falcon.reset();
  assert.equal(falcon.imemSize(), gpu.falcons.GSP.imemSize);
  const dst = falcon.topOfImem(bootloader.code.length);
  assert.equal(dst, gpu.falcons.GSP.imemSize - 0x300);
  falcon.writeImem(bootloader.code, { dstStart: dst, secure: false, tag: startTag });
  const descriptor = new Uint8Array(84).fill(0x5a);
  falcon.writeDmem(descriptor, 0);
  falcon.setBootVector(startTag << 8);
  await falcon.run();
  const s = starts[0];
  assertBytes(s.imem, dst, bootloader.code, "bootloader code");
  assertBytes(s.dmem, 0, descriptor, "descriptor");
  assert.deepEqual(
    s.imemBlocks.slice(dst / 256),
    [0, 1, 2].map((n) => ({
      tag: startTag + n,
      secure: false,
      method: "pio",
    })),
  );
  assert.equal(s.bootVector, startTag << 8);
  assert.throws(() => falcon.topOfImem(0x10001), FalconError);
  assert.deepEqual(gpu.violations(), []);
});

Deno.test("reset, load and run on every simulated family's GSP and SEC2, by the chip's method", async () => {
  const image = new Uint8Array(0x800).map((_, i) => (i * 7 + 3) & 0xff);
  const map: FalconLoadMap = {
    imemSecure: { srcStart: 0x200, dstStart: 0x200, length: 0x400 },
    dmem: { srcStart: 0x600, dstStart: 0x100, length: 0x1fc },
    bootAddress: 0x200,
  };
  for (const chip of ["tu102", "tu116", "ga100", "ga102", "ad102"]) {
    for (const engine of ["GSP", "SEC2"] as const) {
      const { gpu, falcon, starts } = rig(chip, engine, () => halt(0, 1));
      await using _gpu = gpu;
      await falcon.reset();
      await falcon.load(image, map);
      assert.deepEqual(await falcon.run(), { mailbox0: 0, mailbox1: 1 }, `${chip} ${engine}`);
      const s = starts[0];
      const method = falcon.hal.info.loadMethod;
      assertBytes(s.imem, 0x200, image.subarray(0x200, 0x600), `${chip} ${engine} IMEM`);
      assertBytes(s.dmem, 0x100, image.subarray(0x600, 0x7fc), `${chip} ${engine} DMEM`);
      assert.deepEqual(
        s.imemBlocks.filter((b) => b),
        [2, 3, 4, 5].map((tag) => ({
          tag,
          secure: true,
          method,
        })),
      );
      assert.equal(s.dmemMethod, method);
      assert.equal(s.bootVector, 0x200);
      await falcon.reset();
      assert.deepEqual(gpu.residue(), [], `${chip} ${engine}`);
      assert.deepEqual(gpu.violations(), [], `${chip} ${engine}`);
    }
  }
});

Deno.test("a reset that fails while unwinding is attached to the original error, not swallowed", async () => {
  await using gpu = new SimulatedGpu({ chip: "tu102" });
  const r = falconRegisters("tu102", "SEC2");
  let stuck = false;
  const bar0 = {
    ...gpu.bar0,
    size: gpu.bar0.size,
    name: gpu.bar0.name,
    read32: (offset: number) => {
      const v = gpu.bar0.read32(offset);
      return stuck && offset === r.DMACTL.address ? v | r.DMACTL.encode({ DMEM_SCRUBBING: 1 }) : v;
    },
    write32: (offset: number, value: number) => gpu.bar0.write32(offset, value),
  };
  const falcon = new Falcon({ bar0, clock: gpu.clock, dma: gpu.dma }, "tu102", "SEC2");
  const original = new Error("a later boot step failed");
  const error = await (async () => {
    await using _guard = falcon.resetOnDispose();
    await falcon.reset();
    stuck = true;
    throw original;
  })().then(() => undefined, (e) => e);
  assert(error instanceof SuppressedError, String(error));
  assert.equal(error.suppressed, original);
  assert(error.error instanceof FalconError && error.error.operation === "reset");
  assert(error.error.cause instanceof HardwareTimeoutError);
});
