import assert from "node:assert/strict";
import { DeviceError, OsError } from "../errors.ts";
import { ManualClock } from "../pci/clock.ts";
import { FileConfigSpace } from "../pci/config_space.ts";
import { errnoNumber } from "../pci/errno.ts";
import { type IoctlFunction, O_RDWR, open, openFile } from "../pci/libc.ts";
import { ResetRefusedError } from "../pci/reset_error.ts";
import { readPciDevice } from "../pci/sysfs.ts";
import type { SysfsWriter } from "../pci/sysfs_writer.ts";
import {
  decodeHotResetInfo,
  VFIO_HOT_RESET_IOCTL,
  VFIO_HOT_RESET_STRUCTS,
  VFIO_IOCTL,
} from "../pci/vfio_abi.ts";
import { openVfioDevice } from "../pci/vfio_device.ts";
import { VfioDeviceReset } from "../pci/vfio_reset.ts";
import { openFilesUnder } from "./_proc.ts";
import { buildSysfsTree, type FixtureDevice, type SysfsFixture } from "./_sysfs_fixture.ts";

const GPU = "0000:02:00.0";
const AUDIO = "0000:02:00.1";
const GROUP = 13;
const BAR0_SIZE = 1 << 20;
const CONFIG_OFFSET = BAR0_SIZE; // where the fake device file keeps config space
const PCIE_CAP = 0x78;

/** Virtual time; functions a reset took down answer again once it reaches their time. */
class HardwareClock extends ManualClock {
  readonly pending = new Map<string, { backAt: number; comeBack: () => void }>();

  override async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    await super.sleep(ms, signal);
    for (const [key, { backAt, comeBack }] of this.pending) {
      if (this.now() >= backAt) {
        this.pending.delete(key);
        comeBack();
      }
    }
  }
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function osError(name: string, call: string, context?: { path?: string; hints?: object }) {
  return new OsError({
    call: `ioctl(${call})`,
    errno: errnoNumber(name)!,
    name,
    path: context?.path,
    hint: (context?.hints as Record<string, string> | undefined)?.[name],
  });
}

/**
 * vfio-pci in miniature: the open sequence, `VFIO_DEVICE_RESET` and the two
 * hot-reset ioctls, checked the way the kernel checks them. The device is a
 * file (BAR0, then config space); the sysfs tree supplies the bus, drivers
 * and groups. A reset takes every affected function's sysfs config off the
 * bus (all ones) until the clock moves `recoverMs` on, and clears the
 * Command register of the VFIO config unless the kernel restores it.
 */
class FakeVfioKernel {
  readonly calls: string[] = [];
  readonly resets: { kind: "flr" | "hot"; method?: string; devices: string[] }[] = [];
  resetWorks = true;
  recoverMs = 100;
  kernelRestores = false;
  containerFd = -1;
  deviceFd = -1;

  constructor(
    readonly tree: SysfsFixture,
    readonly devRoot: string,
    readonly deviceFile: string,
    readonly clock: HardwareClock,
  ) {}

  /** Functions on the GPU's bus: same domain and bus number. */
  affected(): { bdf: string; group: number | null; driver: string | null }[] {
    return this.tree.devices
      .filter((d) => d.bdf.startsWith(GPU.slice(0, 8)))
      .map((d) => ({ bdf: d.bdf, group: d.iommuGroup, driver: this.#driver(d.bdf) }));
  }

  #driver(bdf: string): string | null {
    try {
      const target = Deno.readLinkSync(`${this.tree.devicePath(bdf)}/driver`);
      return target.slice(target.lastIndexOf("/") + 1);
    } catch {
      return null;
    }
  }

  #groupOfFd(fd: number): number {
    const target = Deno.readLinkSync(`/proc/self/fd/${fd}`);
    assert.ok(target.startsWith(`${this.devRoot}/vfio/`), `fd ${fd} is a group: ${target}`);
    return Number(target.slice(target.lastIndexOf("/") + 1));
  }

  #takeDown(bdfs: string[]): void {
    for (const bdf of bdfs) {
      const file = `${this.tree.devicePath(bdf)}/config`;
      const before = Deno.readFileSync(file);
      const down = before.slice();
      dataView(down).setUint32(0, 0xffffffff, true);
      Deno.writeFileSync(file, down);
      const comeBack = () => Deno.writeFileSync(file, before);
      // 0 ms: back before the call returns, so any clock (the system one included) sees it.
      if (this.recoverMs <= 0) comeBack();
      else this.clock.pending.set(file, { backAt: this.clock.now() + this.recoverMs, comeBack });
    }
    if (!this.kernelRestores && bdfs.includes(GPU)) {
      const bytes = Deno.readFileSync(this.deviceFile);
      dataView(bytes).setUint16(CONFIG_OFFSET + 4, 0, true);
      Deno.writeFileSync(this.deviceFile, bytes);
    }
  }

  ioctl: IoctlFunction = (fd, request, argument, name, context) => {
    this.calls.push(name);
    const bytes = argument instanceof Uint8Array ? argument : null;
    const view = bytes ? dataView(bytes) : null;
    if (fd === this.deviceFd) {
      switch (request) {
        case VFIO_IOCTL.VFIO_DEVICE_GET_INFO:
          view!.setUint32(4, this.resetWorks ? 0x3 : 0x2, true);
          view!.setUint32(8, 9, true);
          return 0;
        case VFIO_IOCTL.VFIO_DEVICE_GET_REGION_INFO: {
          const index = view!.getUint32(8, true);
          view!.setUint32(4, index === 7 ? 0x3 : 0x7, true);
          view!.setBigUint64(16, BigInt(index === 7 ? 4096 : BAR0_SIZE), true);
          view!.setBigUint64(24, BigInt(index === 7 ? CONFIG_OFFSET : 0), true);
          return 0;
        }
        case VFIO_IOCTL.VFIO_DEVICE_RESET: {
          assert.equal(name, "VFIO_DEVICE_RESET");
          if (!this.resetWorks) throw osError("EINVAL", name, context);
          const methods = Deno.readTextFileSync(`${this.tree.devicePath(GPU)}/reset_method`);
          this.resets.push({ kind: "flr", method: methods.trim().split(/\s+/)[0], devices: [GPU] });
          this.#takeDown([GPU]);
          return 0;
        }
        case VFIO_HOT_RESET_IOCTL.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO: {
          assert.equal(name, "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO");
          const layout = VFIO_HOT_RESET_STRUCTS.vfio_pci_hot_reset_info;
          const devices = this.affected();
          view!.setUint32(8, devices.length, true);
          if (view!.getUint32(0, true) < layout.size + 8 * devices.length) {
            throw osError("ENOSPC", name, context);
          }
          devices.forEach((d, i) => {
            const at = layout.size + 8 * i;
            const [, bus, devfn] = /^[0-9a-f]{4}:([0-9a-f]{2}):([0-9a-f]{2}\.[0-7])$/.exec(d.bdf)!;
            const [dev, fn] = devfn.split(".").map((x) => parseInt(x, 16));
            view!.setUint32(at, d.group ?? 0xffffffff, true);
            view!.setUint16(at + 4, 0, true);
            view!.setUint8(at + 6, parseInt(bus, 16));
            view!.setUint8(at + 7, (dev << 3) | fn);
          });
          return 0;
        }
        case VFIO_HOT_RESET_IOCTL.VFIO_DEVICE_PCI_HOT_RESET: {
          assert.equal(name, "VFIO_DEVICE_PCI_HOT_RESET");
          const count = view!.getUint32(8, true);
          assert.equal(view!.getUint32(0, true), 12 + 4 * count, "argsz covers every fd");
          const groups = new Set(
            Array.from(
              { length: count },
              (_, i) => this.#groupOfFd(view!.getInt32(12 + 4 * i, true)),
            ),
          );
          const devices = this.affected();
          // vfio_pci_dev_set_resettable and vfio_dev_in_groups: all on vfio-pci, all owned.
          if (devices.some((d) => d.driver !== "vfio-pci" || !groups.has(d.group!))) {
            throw osError("EINVAL", name, context);
          }
          this.resets.push({ kind: "hot", devices: devices.map((d) => d.bdf) });
          this.#takeDown(devices.map((d) => d.bdf));
          return 0;
        }
      }
      assert.fail(`unexpected device ioctl ${name}`);
    }
    switch (request) {
      case VFIO_IOCTL.VFIO_GET_API_VERSION:
        this.containerFd = fd;
        return 0;
      case VFIO_IOCTL.VFIO_CHECK_EXTENSION:
        return 1;
      case VFIO_IOCTL.VFIO_SET_IOMMU:
      case VFIO_IOCTL.VFIO_GROUP_SET_CONTAINER:
      case VFIO_IOCTL.VFIO_GROUP_UNSET_CONTAINER:
        return 0;
      case VFIO_IOCTL.VFIO_GROUP_GET_STATUS:
        view!.setUint32(4, 1, true);
        return 0;
      case VFIO_IOCTL.VFIO_IOMMU_GET_INFO:
        assert.equal(fd, this.containerFd, "0x3b70 on the container is the IOMMU info");
        view!.setUint32(4, 0, true);
        return 0;
      case VFIO_IOCTL.VFIO_GROUP_GET_DEVICE_FD:
        this.deviceFd = open(this.deviceFile, O_RDWR);
        return this.deviceFd;
    }
    assert.fail(`unexpected ioctl ${name}`);
  };
}

/** Writes `reset_method` like the kernel (any listed name) and records it. */
class MethodWriter implements SysfsWriter {
  readonly writes: string[] = [];
  denied = false;
  write(path: string, text: string): Promise<void> {
    this.writes.push(`${path.slice(path.lastIndexOf("/") + 1)}=${text}`);
    Deno.writeTextFileSync(path, text);
    return Promise.resolve();
  }
  writable(path: string): string | undefined {
    return this.denied ? `cannot write ${path} (EACCES): needs root (CAP_SYS_ADMIN)` : undefined;
  }
}

interface Setup extends Disposable {
  tree: SysfsFixture;
  kernel: FakeVfioKernel;
  writer: MethodWriter;
  clock: HardwareClock;
  devRoot: string;
  deviceFile: string;
  /** A reset over descriptors this setup opened itself (no open sequence). */
  reset(options?: { readOnly?: boolean }): VfioDeviceReset;
  command(): number;
}

interface SetupOptions {
  flr?: boolean;
  edit?: (devices: FixtureDevice[]) => void;
  extraGroups?: number[];
}

function setup(options: SetupOptions = {}): Setup {
  const tree = buildSysfsTree(options.edit);
  const devRoot = Deno.makeTempDirSync();
  Deno.mkdirSync(`${devRoot}/vfio`);
  for (const group of [GROUP, ...(options.extraGroups ?? [])]) {
    Deno.writeFileSync(`${devRoot}/vfio/${group}`, new Uint8Array());
  }
  Deno.writeFileSync(`${devRoot}/vfio/vfio`, new Uint8Array());
  Deno.writeTextFileSync(`${tree.devicePath(GPU)}/reset_method`, "acpi flr bus\n");
  const deviceFile = Deno.makeTempFileSync();
  const bytes = new Uint8Array(CONFIG_OFFSET + 4096);
  const v = dataView(bytes);
  v.setUint32(0, 0x172000a1, true);
  v.setUint16(CONFIG_OFFSET, 0x10de, true);
  v.setUint16(CONFIG_OFFSET + 2, 0x2204, true);
  v.setUint16(CONFIG_OFFSET + 4, 0x0006, true);
  v.setUint16(CONFIG_OFFSET + 6, 0x0010, true);
  v.setUint8(CONFIG_OFFSET + 0x34, PCIE_CAP);
  v.setUint8(CONFIG_OFFSET + PCIE_CAP, 0x10);
  v.setUint32(CONFIG_OFFSET + PCIE_CAP + 4, (options.flr ?? true) ? 1 << 28 : 0, true);
  Deno.writeFileSync(deviceFile, bytes);
  const clock = new HardwareClock({ start: 500 });
  const kernel = new FakeVfioKernel(tree, devRoot, deviceFile, clock);
  const writer = new MethodWriter();
  const stack = new DisposableStack();
  return {
    tree,
    kernel,
    writer,
    clock,
    devRoot,
    deviceFile,
    reset(o = {}) {
      const device = stack.use(openFile(deviceFile, O_RDWR));
      kernel.deviceFd = device.fd;
      const group = stack.use(openFile(`${devRoot}/vfio/${GROUP}`, O_RDWR));
      const config = new FileConfigSpace(device.fd, {
        base: CONFIG_OFFSET,
        size: 4096,
        bdf: GPU,
        path: deviceFile,
      });
      const fixture = tree.devices.find((d) => d.bdf === GPU)!;
      return new VfioDeviceReset({
        info: {
          bdf: GPU,
          vendor: parseInt(fixture.vendor, 16),
          device: parseInt(fixture.device, 16),
          path: tree.devicePath(GPU),
        },
        devRoot,
        device,
        group: { id: GROUP, file: group },
        resetWorks: kernel.resetWorks,
        ioctl: kernel.ioctl,
        config,
        clock,
        readOnly: o.readOnly ?? false,
        writer,
      });
    },
    command: () => dataView(Deno.readFileSync(deviceFile)).getUint16(CONFIG_OFFSET + 4, true),
    [Symbol.dispose]() {
      stack.dispose();
      tree[Symbol.dispose]();
      Deno.removeSync(devRoot, { recursive: true });
      Deno.removeSync(deviceFile);
    },
  };
}

Deno.test("VFIO FLR: VFIO_DEVICE_RESET with reset_method pinned to flr, then the wait", async () => {
  using s = setup();
  const reset = s.reset();
  assert.equal(reset.refusal("flr"), undefined);
  const start = s.clock.now();
  await reset.functionLevel();
  assert.deepEqual(s.kernel.resets, [{ kind: "flr", method: "flr", devices: [GPU] }]);
  assert.deepEqual(s.writer.writes, ["reset_method=flr", "reset_method=acpi flr bus"]);
  assert.ok(s.clock.now() - start >= s.kernel.recoverMs, "waited for the sysfs config to answer");
  assert.equal(s.command(), 0x0006, "Command written back through VFIO");
});

Deno.test("VFIO FLR without permission for reset_method: the kernel's first method is used", async () => {
  using s = setup();
  s.writer.denied = true;
  await s.reset().functionLevel();
  assert.deepEqual(s.writer.writes, []);
  assert.equal(s.kernel.resets[0].method, "acpi");
});

Deno.test("VFIO FLR is refused without VFIO_DEVICE_FLAGS_RESET or the DEVCAP bit", async () => {
  {
    using s = setup();
    s.kernel.resetWorks = false;
    const reset = s.reset();
    assert.match(reset.refusal("flr")!, /VFIO_DEVICE_FLAGS_RESET is clear/);
    await assert.rejects(reset.functionLevel(), ResetRefusedError);
    assert.deepEqual(s.kernel.calls, []);
  }
  {
    using s = setup({ flr: false });
    assert.match(s.reset().refusal("flr")!, /does not advertise function-level reset/);
  }
});

Deno.test("VFIO FLR that never comes back fails after 60 s and says to power-cycle", async () => {
  using s = setup();
  s.kernel.recoverMs = Infinity;
  const start = s.clock.now();
  await assert.rejects(s.reset().functionLevel(), (e: unknown) => {
    assert.ok(e instanceof DeviceError);
    assert.match(e.message, /power cycle/);
    return true;
  });
  assert.equal(s.clock.now() - start, 60_000);
});

Deno.test("VFIO hot reset: info grown to the kernel's count, every group's fd passed", async () => {
  using s = setup();
  const reset = s.reset();
  assert.equal(reset.refusal("bus"), undefined);
  await reset.bus();
  assert.deepEqual(s.kernel.calls, [
    "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO",
    "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO",
    "VFIO_DEVICE_PCI_HOT_RESET",
  ]);
  assert.deepEqual(s.kernel.resets, [{ kind: "hot", devices: [GPU, AUDIO] }]);
  assert.equal(s.command(), 0x0006);
});

Deno.test("VFIO hot reset opens the audio function's own group for the call, then closes it", async () => {
  using s = setup({
    edit: (d) => void (d.find((x) => x.bdf === AUDIO)!.iommuGroup = 17),
    extraGroups: [17],
  });
  await s.reset().bus();
  assert.deepEqual(s.kernel.resets, [{ kind: "hot", devices: [GPU, AUDIO] }]);
  assert.deepEqual(openFilesUnder(`${s.devRoot}/vfio/17`), [], "group 17 closed again");
});

Deno.test("VFIO hot reset: a missing group of another function is named", async () => {
  using s = setup({ edit: (d) => void (d.find((x) => x.bdf === AUDIO)!.iommuGroup = 17) });
  await assert.rejects(s.reset().bus(), /no VFIO group 17: bind 0000:02:00\.1 to vfio-pci/);
  assert.deepEqual(s.kernel.resets, []);
});

Deno.test("VFIO hot reset is refused while the audio function is on snd_hda_intel", async () => {
  using s = setup({ edit: (d) => void (d.find((x) => x.bdf === AUDIO)!.driver = "snd_hda_intel") });
  const reset = s.reset();
  const refusal = reset.refusal("bus")!;
  assert.match(refusal, /0000:02:00\.1 \(HD audio\) shares the bus and is bound to snd_hda_intel/);
  assert.match(refusal, /driver_override/);
  await assert.rejects(reset.bus(), ResetRefusedError);
  assert.deepEqual(s.kernel.calls, [], "nothing asked of the kernel");
});

Deno.test("the fake kernel itself refuses a hot reset with a function off vfio-pci", () => {
  using s = setup({ edit: (d) => void (d.find((x) => x.bdf === AUDIO)!.driver = "snd_hda_intel") });
  s.reset();
  const request = new Uint8Array(16);
  const v = dataView(request);
  v.setUint32(0, 16, true);
  v.setUint32(8, 1, true);
  using group = openFile(`${s.devRoot}/vfio/${GROUP}`, O_RDWR);
  v.setInt32(12, group.fd, true);
  assert.throws(
    () =>
      s.kernel.ioctl(
        s.kernel.deviceFd,
        VFIO_HOT_RESET_IOCTL.VFIO_DEVICE_PCI_HOT_RESET,
        request,
        "VFIO_DEVICE_PCI_HOT_RESET",
      ),
    /EINVAL/,
  );
  const info = new Uint8Array(12);
  dataView(info).setUint32(0, 12, true);
  assert.throws(
    () =>
      s.kernel.ioctl(
        s.kernel.deviceFd,
        VFIO_HOT_RESET_IOCTL.VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
        info,
        "VFIO_DEVICE_GET_PCI_HOT_RESET_INFO",
      ),
    /ENOSPC/,
  );
  assert.equal(decodeHotResetInfo(info).count, 2);
});

Deno.test("VFIO bus reset is refused by the GH100 quirk; re-enumeration always", async () => {
  using s = setup({ edit: (d) => void (d.find((x) => x.bdf === GPU)!.device = "0x2342") });
  const reset = s.reset();
  assert.match(reset.refusal("bus")!, /quirk table forbids a bus reset/);
  assert.match(reset.refusal("reenumerate")!, /dispose this device/);
  await assert.rejects(reset.reenumerate(), (e: unknown) => {
    assert.ok(e instanceof ResetRefusedError && e.method === "reenumerate");
    return true;
  });
});

Deno.test("VFIO read-only refuses every method", async () => {
  using s = setup();
  const reset = s.reset({ readOnly: true });
  for (const method of ["flr", "bus", "reenumerate"] as const) {
    assert.match(reset.refusal(method)!, /read-only/);
  }
  await assert.rejects(reset.functionLevel(), ResetRefusedError);
  await assert.rejects(reset.bus(), ResetRefusedError);
  assert.deepEqual(s.kernel.calls, []);
});

Deno.test("through openVfioDevice: the reset uses the device and group it opened", async () => {
  using s = setup();
  s.kernel.recoverMs = 0;
  s.kernel.kernelRestores = true;
  const lockDir = Deno.makeTempDirSync();
  try {
    const info = await readPciDevice(GPU, s.tree.root);
    await using gpu = await openVfioDevice(info, {
      readOnly: false,
      devRoot: s.devRoot,
      sysfsRoot: s.tree.root,
      lockDir,
      ioctl: s.kernel.ioctl,
      sysfsWriter: s.writer,
    });
    assert.ok(gpu.reset);
    assert.equal(gpu.reset.refusal("flr"), undefined);
    assert.equal(gpu.reset.refusal("bus"), undefined);
    s.kernel.calls.length = 0;
    await gpu.reset.bus();
    assert.deepEqual(s.kernel.resets.map((r) => r.kind), ["hot"]);
    assert.deepEqual(openFilesUnder(`${s.devRoot}/vfio/${GROUP}`).length, 1, "own group fd reused");
    await gpu.reset.functionLevel();
    assert.deepEqual(s.kernel.resets.map((r) => r.kind), ["hot", "flr"]);
    assert.equal(gpu.bar0.read32(0), 0x172000a1, "BAR0 still mapped");
  } finally {
    Deno.removeSync(lockDir, { recursive: true });
  }
});
