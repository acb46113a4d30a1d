import assert from "node:assert/strict";
import { DeviceError } from "../errors.ts";
import { ManualClock } from "../pci/clock.ts";
import type { Device } from "../pci/device.ts";
import { ResetRefusedError } from "../pci/reset_error.ts";
import { readPciDevice } from "../pci/sysfs.ts";
import { openSysfsDevice } from "../pci/sysfs_device.ts";
import { SysfsDeviceReset } from "../pci/sysfs_reset.ts";
import { type SysfsWriter, systemSysfsWriter } from "../pci/sysfs_writer.ts";
import { buildSysfsTree, type FixtureDevice, type SysfsFixture } from "./_sysfs_fixture.ts";

const GPU = "0000:01:00.0";
const BRIDGE = "0000:00:01.0";
const PCIE_CAP = 0x78;
const BAR0_VALUE = 0xf6000000;
const COMMAND_IN_USE = 0x0006;

/**
 * Time for the fake hardware: a device taken down by a reset answers again
 * once the virtual clock reaches its `backAt` time (never, for Infinity).
 */
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

/**
 * A kernel in miniature behind the {@linkcode SysfsWriter} interface: it
 * records each write and does what the kernel's attribute does to the fake
 * tree. A reset takes the device off the bus (config reads all ones) and,
 * unless `kernelRestores`, leaves its Command register and BAR0 cleared as
 * a reset does; re-enumeration removes and later re-adds the device link.
 */
class FakeSysfsKernel implements SysfsWriter {
  readonly writes: string[] = [];
  readonly denied = new Set<string>();
  /** How long a reset device stays unreadable, in ms of the virtual clock. */
  recoverMs = 250;
  /** Whether the kernel's own restore puts Command and BAR0 back (it normally does). */
  kernelRestores = false;
  /** The method a `reset` write used (`reset_method`'s first entry at the time). */
  readonly resetsWith: string[] = [];
  /** Every function a reset took off the bus. */
  readonly takenDown: string[] = [];

  constructor(readonly tree: SysfsFixture, readonly clock: HardwareClock) {}

  #relative(path: string): string {
    return path.startsWith(this.tree.root) ? path.slice(this.tree.root.length) : path;
  }

  writable(path: string): string | undefined {
    if (this.denied.has(this.#relative(path))) {
      return `cannot write ${path} (EACCES): needs root (CAP_SYS_ADMIN)`;
    }
    try {
      Deno.statSync(path);
      return undefined;
    } catch {
      return `${path} does not exist on this kernel`;
    }
  }

  write(path: string, text: string): Promise<void> {
    const relative = this.#relative(path);
    this.writes.push(`${relative}=${text}`);
    const name = relative.slice(relative.lastIndexOf("/") + 1);
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (name === "reset_method" && text === "flr" && !this.#advertisesFlr(dir)) {
      return Promise.reject(new DeviceError(GPU, `writing "flr" to ${path} failed: EINVAL`));
    }
    if (name !== "remove" && name !== "rescan") Deno.writeTextFileSync(path, text);
    if (name === "reset") {
      this.resetsWith.push(Deno.readTextFileSync(`${dir}/reset_method`).trim().split(/\s+/)[0]);
      this.#takeDown(Deno.realPathSync(dir));
    }
    if (name === "reset_subordinate") {
      for (const entry of Deno.readDirSync(dir)) {
        if (/^[0-9a-f]{4}:/.test(entry.name)) this.#takeDown(`${dir}/${entry.name}`);
      }
    }
    if (name === "remove") this.#remove(dir);
    if (name === "rescan") this.#rescan();
    return Promise.resolve();
  }

  #advertisesFlr(dir: string): boolean {
    const config = dataView(Deno.readFileSync(`${dir}/config`));
    return (config.getUint32(PCIE_CAP + 4, true) & (1 << 28)) !== 0;
  }

  #takeDown(realDir: string): void {
    const file = `${realDir}/config`;
    const before = Deno.readFileSync(file);
    const down = before.slice();
    dataView(down).setUint32(0, 0xffffffff, true);
    if (!this.kernelRestores) {
      dataView(down).setUint16(0x04, 0, true);
      dataView(down).setUint32(0x10, 0, true);
    }
    Deno.writeFileSync(file, down);
    const comeBack = () => {
      const now = Deno.readFileSync(file);
      dataView(now).setUint32(0, dataView(before).getUint32(0, true), true);
      Deno.writeFileSync(file, now);
    };
    this.takenDown.push(realDir.slice(realDir.lastIndexOf("/") + 1));
    this.#later(file, comeBack);
  }

  /** Run `comeBack` once the clock has moved `recoverMs` on (at once for 0: any clock). */
  #later(key: string, comeBack: () => void): void {
    if (this.recoverMs <= 0) comeBack();
    else this.clock.pending.set(key, { backAt: this.clock.now() + this.recoverMs, comeBack });
  }

  #removed: { link: string; target: string } | null = null;

  #remove(linkDir: string): void {
    this.#removed = { link: linkDir, target: Deno.readLinkSync(linkDir) };
    Deno.removeSync(linkDir);
  }

  #rescan(): void {
    const removed = this.#removed;
    if (removed === null) return;
    this.#later(removed.link, () => Deno.symlinkSync(removed.target, removed.link));
  }
}

interface Setup extends Disposable {
  tree: SysfsFixture;
  clock: HardwareClock;
  kernel: FakeSysfsKernel;
  reset: SysfsDeviceReset;
  configFile: string;
  /** Offsets written through the device's config space, in order. */
  configWrites: number[];
  released: number;
}

/** The GPU's config space with a PCIe capability (FLR when `flr`) and a device in use. */
function writeGpuConfig(path: string, flr: boolean): void {
  const bytes = Deno.readFileSync(path);
  const v = dataView(bytes);
  v.setUint16(0x04, COMMAND_IN_USE, true);
  v.setUint16(0x06, 0x0010, true); // capability list
  v.setUint32(0x10, BAR0_VALUE, true);
  v.setUint8(0x34, 0x60);
  v.setUint8(0x60, 0x01); // power management
  v.setUint8(0x61, PCIE_CAP);
  v.setUint8(PCIE_CAP, 0x10); // PCI Express
  v.setUint8(PCIE_CAP + 1, 0x00);
  v.setUint32(PCIE_CAP + 4, flr ? 1 << 28 : 0, true);
  Deno.writeFileSync(path, bytes);
}

interface SetupOptions {
  flr?: boolean;
  readOnly?: boolean;
  edit?: (devices: FixtureDevice[]) => void;
  resetSubordinate?: boolean;
}

function setup(options: SetupOptions = {}): Setup {
  const tree = buildSysfsTree((devices) => {
    devices.find((d) => d.bdf === GPU)!.driver = null; // falconry drives it
    options.edit?.(devices);
  });
  const dir = tree.devicePath(GPU);
  const configFile = `${dir}/config`;
  const configWrites: number[] = [];
  writeGpuConfig(configFile, options.flr ?? true);
  Deno.writeTextFileSync(`${dir}/reset`, "");
  Deno.writeTextFileSync(`${dir}/reset_method`, "flr bus\n");
  Deno.writeTextFileSync(`${dir}/remove`, "");
  Deno.writeTextFileSync(`${tree.root}/bus/pci/rescan`, "");
  if (options.resetSubordinate ?? true) {
    Deno.writeTextFileSync(`${tree.devicePath(BRIDGE)}/reset_subordinate`, "");
  }
  const clock = new HardwareClock({ start: 1000 });
  const kernel = new FakeSysfsKernel(tree, clock);
  const file = Deno.openSync(configFile, { read: true, write: true });
  const config = {
    size: 4096,
    read8: (o: number) => dataView(Deno.readFileSync(configFile)).getUint8(o),
    read16: (o: number) => dataView(Deno.readFileSync(configFile)).getUint16(o, true),
    read32: (o: number) => dataView(Deno.readFileSync(configFile)).getUint32(o, true),
    write8: (o: number, x: number) => patch(configFile, o, 1, x, configWrites),
    write16: (o: number, x: number) => patch(configFile, o, 2, x, configWrites),
    write32: (o: number, x: number) => patch(configFile, o, 4, x, configWrites),
  };
  const info = tree.devices.find((d) => d.bdf === GPU)!;
  const state = {
    tree,
    clock,
    kernel,
    configFile,
    configWrites,
    released: 0,
    reset: undefined as unknown as SysfsDeviceReset,
    [Symbol.dispose]() {
      file.close();
      tree[Symbol.dispose]();
    },
  };
  state.reset = new SysfsDeviceReset({
    info: {
      bdf: GPU,
      vendor: parseInt(info.vendor, 16),
      device: parseInt(info.device, 16),
      path: dir,
    },
    sysfsRoot: tree.root,
    config,
    clock,
    readOnly: options.readOnly ?? false,
    release: () => state.released++,
    writer: kernel,
  });
  return state;
}

function patch(
  path: string,
  offset: number,
  width: 1 | 2 | 4,
  value: number,
  log: number[],
): void {
  log.push(offset);
  const bytes = Deno.readFileSync(path);
  const v = dataView(bytes);
  if (width === 1) v.setUint8(offset, value);
  else if (width === 2) v.setUint16(offset, value, true);
  else v.setUint32(offset, value, true);
  Deno.writeFileSync(path, bytes);
}

function header(path: string): { ids: number; command: number; bar0: number } {
  const v = dataView(Deno.readFileSync(path));
  return {
    ids: v.getUint32(0, true),
    command: v.getUint16(4, true),
    bar0: v.getUint32(0x10, true),
  };
}

Deno.test("FLR pins reset_method to flr, resets, puts it back and restores the header", async () => {
  using s = setup();
  assert.equal(s.reset.refusal("flr"), undefined);
  const start = s.clock.now();
  await s.reset.functionLevel();
  assert.deepEqual(s.kernel.writes, [
    `/bus/pci/devices/${GPU}/reset_method=flr`,
    `/bus/pci/devices/${GPU}/reset=1`,
    `/bus/pci/devices/${GPU}/reset_method=flr bus`,
  ]);
  assert.deepEqual(s.kernel.resetsWith, ["flr"], "the kernel used FLR, not another method");
  assert.ok(s.clock.now() - start >= s.kernel.recoverMs, "waited until the device answered");
  assert.ok(s.clock.now() - start < 2 * s.kernel.recoverMs, "and not much longer");
  assert.deepEqual(header(s.configFile), {
    ids: 0x1e0710de,
    command: COMMAND_IN_USE,
    bar0: BAR0_VALUE,
  }, "Command and BAR0 written back after the reset cleared them");
  assert.deepEqual(s.configWrites, [0x10, 0x04], "BAR0 first, Command (decode, mastering) last");
});

Deno.test("when the kernel restored the header, nothing is written to config space", async () => {
  using s = setup();
  s.kernel.kernelRestores = true;
  await s.reset.functionLevel();
  assert.equal(header(s.configFile).command, COMMAND_IN_USE);
  assert.deepEqual(s.configWrites, []);
});

Deno.test("a device that never answers again: the wait stops at the kernel's 60 s", async () => {
  using s = setup();
  s.kernel.recoverMs = Infinity;
  const start = s.clock.now();
  await assert.rejects(s.reset.functionLevel(), (e: unknown) => {
    assert.ok(e instanceof DeviceError && !(e instanceof ResetRefusedError));
    assert.match(e.message, /0xffffffff after 60000 ms/);
    assert.match(e.message, /power cycle/);
    return true;
  });
  assert.equal(s.clock.now() - start, 60_000, "exactly the kernel's wait, on the device's clock");
});

Deno.test("the wait stops when the signal aborts", async () => {
  using s = setup();
  s.kernel.recoverMs = Infinity;
  const controller = new AbortController();
  const start = s.clock.now();
  s.clock.pending.set("operator", {
    backAt: start + 50,
    comeBack: () => controller.abort(new Error("operator gave up")),
  });
  await assert.rejects(s.reset.functionLevel(controller.signal), /operator gave up/);
  assert.ok(s.clock.now() - start < 128, "no sleep after the abort");
});

Deno.test("FLR is refused when the device does not advertise it, and nothing is written", async () => {
  using s = setup({ flr: false });
  assert.match(s.reset.refusal("flr")!, /does not advertise function-level reset.*DEVCAP bit 28/);
  await assert.rejects(s.reset.functionLevel(), (e: unknown) => {
    assert.ok(e instanceof ResetRefusedError);
    assert.equal(e.method, "flr");
    assert.equal(e.refusal, s.reset.refusal("flr"));
    assert.equal(e.bdf, GPU);
    return true;
  });
  assert.deepEqual(s.kernel.writes, []);
});

Deno.test("FLR is refused for a GB202 by the reported quirk, naming its source", () => {
  using s = setup({ edit: (d) => void (d.find((x) => x.bdf === GPU)!.device = "0x2b85") });
  const refusal = s.reset.refusal("flr")!;
  assert.match(refusal, /reported/);
  assert.match(refusal, /tinygrad\/tinygrad\/pull\/18199/);
  assert.match(refusal, /use the bus reset instead/);
  assert.equal(s.reset.refusal("bus"), undefined, "the bus reset stays available");
});

Deno.test("no permission: the refusal names the file and says to run as root", async () => {
  using s = setup();
  s.kernel.denied.add(`/bus/pci/devices/${GPU}/reset`);
  assert.match(s.reset.refusal("flr")!, /reset \(EACCES\): needs root/);
  s.kernel.denied.add(`/devices/pci0000:00/${BRIDGE}/reset_subordinate`);
  assert.match(s.reset.refusal("bus")!, /reset_subordinate \(EACCES\)/);
  s.kernel.denied.add("/bus/pci/rescan");
  assert.match(s.reset.refusal("reenumerate")!, /rescan \(EACCES\)/);
  await assert.rejects(s.reset.bus(), ResetRefusedError);
  assert.deepEqual(s.kernel.writes, []);
});

Deno.test("a read-only device refuses every method", async () => {
  using s = setup({ readOnly: true });
  for (const method of ["flr", "bus", "reenumerate"] as const) {
    assert.match(s.reset.refusal(method)!, /opened read-only: open it with readOnly: false/);
  }
  await assert.rejects(s.reset.functionLevel(), ResetRefusedError);
  await assert.rejects(s.reset.bus(), ResetRefusedError);
  await assert.rejects(s.reset.reenumerate(), ResetRefusedError);
  assert.deepEqual(s.kernel.writes, []);
  assert.equal(s.released, 0);
});

Deno.test("bus reset writes the parent bridge's reset_subordinate and waits", async () => {
  using s = setup();
  assert.equal(s.reset.refusal("bus"), undefined);
  const start = s.clock.now();
  await s.reset.bus();
  assert.deepEqual(s.kernel.writes, [`/devices/pci0000:00/${BRIDGE}/reset_subordinate=1`]);
  assert.ok(s.clock.now() - start >= s.kernel.recoverMs);
  assert.equal(header(s.configFile).command, COMMAND_IN_USE);
  assert.deepEqual(
    s.kernel.takenDown.sort(),
    ["0000:01:00.0", "0000:01:00.1", "0000:01:00.2", "0000:01:00.3"],
    "every function below the bridge, the audio function included",
  );
});

Deno.test("bus reset is refused by the kernel's GH100 quirk", () => {
  using s = setup({ edit: (d) => void (d.find((x) => x.bdf === GPU)!.device = "0x2342") });
  const refusal = s.reset.refusal("bus")!;
  assert.match(refusal, /forbids a bus reset of 0000:01:00\.0 \(10de:2340–237f, confirmed\)/);
  assert.match(refusal, /4c207e7121fa/);
});

Deno.test("bus reset is refused below a GB10 root port", () => {
  using s = setup({
    edit: (d) => {
      const bridge = d.find((x) => x.bdf === BRIDGE)!;
      bridge.vendor = "0x10de";
      bridge.device = "0x22ce";
    },
  });
  assert.match(s.reset.refusal("bus")!, /of 0000:00:01\.0 \(10de:22ce, confirmed\).*retrain/);
});

Deno.test("bus reset is refused while a kernel GPU driver holds a function below the bridge", () => {
  using s = setup({
    edit: (d) => void (d.find((x) => x.bdf === "0000:01:00.1")!.driver = "nouveau"),
  });
  assert.match(s.reset.refusal("bus")!, /0000:01:00\.1 \(HD audio\) .*driven by nouveau.*unbind/);
});

Deno.test("bus reset is refused on a kernel without reset_subordinate", () => {
  using s = setup({ resetSubordinate: false });
  assert.match(s.reset.refusal("bus")!, /reset_subordinate \(added in Linux 6\.13\)/);
});

Deno.test("bus reset is refused on a root bus", () => {
  using s = setup({
    edit: (devices) => {
      const gpu = devices.find((x) => x.bdf === GPU)!;
      gpu.parent = "pci0000:00";
      for (const f of devices.filter((x) => x.bdf.startsWith("0000:01:00.") && x.bdf !== GPU)) {
        f.parent = "pci0000:00";
      }
    },
  });
  assert.match(s.reset.refusal("bus")!, /root bus/);
});

Deno.test("re-enumeration releases the mappings, removes, rescans and waits", async () => {
  using s = setup();
  await s.reset.reenumerate();
  assert.deepEqual(s.kernel.writes, [`/bus/pci/devices/${GPU}/remove=1`, "/bus/pci/rescan=1"]);
  assert.equal(s.released, 1, "BAR0 and config were closed before the remove");
  assert.ok(Deno.statSync(s.tree.devicePath(GPU)).isDirectory, "the device is back");
});

Deno.test("through openSysfsDevice: the device carries the reset, and re-enumeration closes BAR0", async () => {
  using s = setup();
  const lockDir = Deno.makeTempDirSync();
  try {
    const info = await readPciDevice(GPU, s.tree.root);
    await using gpu: Device = openSysfsDevice(info, {
      readOnly: false,
      lockDir,
      sysfsWriter: s.kernel,
    });
    assert.ok(gpu.reset);
    assert.equal(gpu.reset.refusal("flr"), undefined);
    assert.equal(gpu.bar0.read32(0), 0);
    s.kernel.recoverMs = 0;
    await gpu.reset.reenumerate();
    assert.throws(() => gpu.bar0.read32(0), /closed/);
    assert.throws(() => gpu.config.read16(0), /closed/);
  } finally {
    Deno.removeSync(lockDir, { recursive: true });
  }
});

Deno.test("through openSysfsDevice read-only: reset is offered but refuses", async () => {
  using s = setup();
  const info = await readPciDevice(GPU, s.tree.root);
  await using gpu = openSysfsDevice(info, { readOnly: true, sysfsWriter: s.kernel });
  assert.match(gpu.reset!.refusal("bus")!, /read-only/);
  await assert.rejects(gpu.reset!.functionLevel(), ResetRefusedError);
});

Deno.test("the system writer: a failed write names the file, the errno and what to do", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    await assert.rejects(
      systemSysfsWriter.write(`${dir}/0000:01:00.0/reset`, "1"),
      /0000:01:00\.0: writing "1" to .*reset failed: ENOENT; the file does not exist/,
    );
    assert.throws(
      () => Deno.statSync(`${dir}/0000:01:00.0`),
      Deno.errors.NotFound,
      "nothing created",
    );
    Deno.mkdirSync(`${dir}/reset_subordinate`);
    assert.match(systemSysfsWriter.writable(`${dir}/reset_subordinate`)!, /\(EISDIR\)/);
    await assert.rejects(systemSysfsWriter.write(`${dir}/reset_subordinate`, "1"), /EISDIR/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
