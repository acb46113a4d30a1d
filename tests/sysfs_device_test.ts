import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DeviceError, OsError } from "../errors.ts";
import { systemClock } from "../pci/clock.ts";
import { lockDevice } from "../pci/lock.ts";
import type { MappedMmio } from "../pci/mmio.ts";
import { openDevice } from "../pci/open.ts";
import { readPciDevice } from "../pci/sysfs.ts";
import { openSysfsDevice } from "../pci/sysfs_device.ts";
import { openFilesUnder } from "./_proc.ts";
import { buildSysfsTree } from "./_sysfs_fixture.ts";

function sha256(path: string): string {
  return createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
}

Deno.test("read-only over sysfs: BAR0 and config read, every write refused, files unchanged", async () => {
  using tree = buildSysfsTree();
  const lockDir = Deno.makeTempDirSync();
  const resource0 = `${tree.devicePath("0000:01:00.0")}/resource0`;
  const config = `${tree.devicePath("0000:01:00.0")}/config`;
  // the "hardware": BOOT_0 of a TU102 at offset 0
  const f = Deno.openSync(resource0, { write: true });
  f.writeSync(new Uint8Array([0xa1, 0x00, 0x20, 0x16]));
  f.close();
  const before = [sha256(resource0), sha256(config)];
  {
    // nouveau is bound: reading is allowed, writing is not
    await using gpu = await openDevice("0000:01:00.0", {
      readOnly: true,
      sysfsRoot: tree.root,
      lockDir,
    });
    assert.equal(gpu.readOnly, true);
    assert.equal(gpu.info.bdf, "0000:01:00.0");
    assert.equal(gpu.info.driver, "nouveau");
    assert.equal(gpu.bar0.size, 16 << 20);
    assert.equal(gpu.bar0.read32(0), 0x162000a1);
    assert.equal(gpu.bar0.read32((16 << 20) - 4), 0);
    assert.equal(gpu.config.size, 4096);
    assert.equal(gpu.config.read16(0), 0x10de);
    assert.equal(gpu.config.read16(2), 0x1e07);
    assert.throws(() => gpu.bar0.write32(0x200, 0), /opened read-only/);
    assert.throws(() => gpu.config.write16(4, 6), /opened read-only/);
    assert.throws(() => gpu.dma.alloc(4096), /DMA needs the VFIO backend/);
    // A read-only open takes no lock: a writer could still take the device.
    using writerLock = lockDevice("0000:01:00.0", { dir: lockDir });
    assert.ok(writerLock);
  }
  assert.deepEqual([sha256(resource0), sha256(config)], before);
});

Deno.test("read-write over sysfs on an unbound GPU: writes reach resource0 and config", async () => {
  using tree = buildSysfsTree();
  const lockDir = Deno.makeTempDirSync();
  const dir = tree.devicePath("0000:03:00.0");
  {
    await using gpu = await openDevice("0000:03:00.0", {
      readOnly: false,
      backend: "sysfs",
      sysfsRoot: tree.root,
      lockDir,
    });
    assert.equal(gpu.readOnly, false);
    assert.equal(gpu.clock, systemClock, "a real backend carries the system clock");
    assert.equal((gpu.bar0 as MappedMmio).clock, systemClock, "and its BAR polls on it");
    gpu.bar0.write32(0x1700, 0x00010000);
    assert.equal(gpu.bar0.read32(0x1700), 0x00010000);
    gpu.config.write16(4, 0x0006);
    assert.equal(await gpu.bar0.poll(0x1700, (v) => v !== 0, { timeoutMs: 10 }), 0x10000);
  }
  assert.equal(
    new DataView(Deno.readFileSync(`${dir}/resource0`).buffer).getUint32(0x1700, true),
    0x10000,
  );
  assert.equal(new DataView(Deno.readFileSync(`${dir}/config`).buffer).getUint16(4, true), 0x0006);
});

Deno.test("disposing releases the mapping, the config fd and the lock", async () => {
  using tree = buildSysfsTree();
  const lockDir = Deno.makeTempDirSync();
  const gpu = await openDevice("0000:03:00.0", {
    readOnly: false,
    backend: "sysfs",
    sysfsRoot: tree.root,
    lockDir,
  });
  const bar0 = gpu.bar0;
  const held = openFilesUnder(tree.root, lockDir);
  assert.equal(held.length, 2, `the config file and the lock file: ${held}`);
  await gpu[Symbol.asyncDispose]();
  assert.deepEqual(openFilesUnder(tree.root, lockDir), [], "no descriptor left open");
  assert.throws(() => bar0.read32(0), /closed/);
  assert.throws(() => gpu.config.read16(0), /closed/);
  using lock = lockDevice("0000:03:00.0", { dir: lockDir });
  assert.ok(lock);
});

Deno.test("a second writer of the same device is busy; a read-only open is not", async () => {
  using tree = buildSysfsTree();
  const lockDir = Deno.makeTempDirSync();
  const writer = { readOnly: false, backend: "sysfs", sysfsRoot: tree.root, lockDir } as const;
  await using _first = await openDevice("0000:03:00.0", writer);
  {
    await using reader = await openDevice("0000:03:00.0", {
      readOnly: true,
      sysfsRoot: tree.root,
      lockDir,
    });
    assert.equal(reader.readOnly, true);
  }
  const held = openFilesUnder(tree.root, lockDir);
  await assert.rejects(
    openDevice("0000:03:00.0", writer),
    (e: unknown) =>
      e instanceof DeviceError && e.message.includes(`busy (held by pid ${Deno.pid})`),
  );
  assert.deepEqual(openFilesUnder(tree.root, lockDir), held, "the failed open left nothing open");
});

Deno.test("a BAR0 file whose size disagrees with the resource table is refused; nothing leaks", async () => {
  using tree = buildSysfsTree();
  const lockDir = Deno.makeTempDirSync();
  Deno.truncateSync(`${tree.devicePath("0000:03:00.0")}/resource0`, 4096);
  await assert.rejects(
    openDevice("0000:03:00.0", { readOnly: true, sysfsRoot: tree.root, lockDir }),
    /resource0 is 4096 bytes but the resource table says BAR0 is 16777216/,
  );
  assert.deepEqual(openFilesUnder(tree.root, lockDir), []);
  using lock = lockDevice("0000:03:00.0", { dir: lockDir }); // the lock was released
  assert.ok(lock);
});

Deno.test("a missing resource0 is an OsError naming the path", async () => {
  using tree = buildSysfsTree();
  const info = await readPciDevice("0000:01:00.1", tree.root);
  assert.throws(
    () => openSysfsDevice(info, { readOnly: true, lockDir: Deno.makeTempDirSync() }),
    /open .*0000:01:00\.1\/resource0 failed: ENOENT/,
  );
});

Deno.test("a refused resource0 open says it needs root or CAP_SYS_ADMIN", async () => {
  using tree = buildSysfsTree();
  const resource0 = `${tree.devicePath("0000:03:00.0")}/resource0`;
  if (Deno.uid() === 0) {
    // root passes permission bits; a read-only sysfs file refuses a write open even to root
    try {
      Deno.statSync("/sys/kernel/notes");
    } catch {
      return;
    }
    Deno.removeSync(resource0);
    Deno.symlinkSync("/sys/kernel/notes", resource0);
  } else {
    Deno.chmodSync(resource0, 0o000);
  }
  await assert.rejects(
    openDevice("0000:03:00.0", {
      backend: "sysfs",
      sysfsRoot: tree.root,
      lockDir: Deno.makeTempDirSync(),
    }),
    (e: unknown) =>
      e instanceof OsError && e.errnoName === "EACCES" && e.path === resource0 &&
      e.message.endsWith("; mapping a BAR through sysfs needs root or CAP_SYS_ADMIN"),
  );
});

Deno.test("an empty resource0 (BAR0 not assigned) is a DeviceError, not a crash", async () => {
  using tree = buildSysfsTree();
  Deno.truncateSync(`${tree.devicePath("0000:03:00.0")}/resource0`, 0);
  await assert.rejects(
    openDevice("0000:03:00.0", { readOnly: true, sysfsRoot: tree.root }),
    (e: unknown) =>
      e instanceof DeviceError && /resource0 is empty: BAR0 is not assigned/.test(e.message),
  );
});
