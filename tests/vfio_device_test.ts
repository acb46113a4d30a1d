import assert from "node:assert/strict";
import { DeviceError, OsError } from "../errors.ts";
import { systemClock } from "../pci/clock.ts";
import { type IoctlFunction, O_RDWR, open } from "../pci/libc.ts";
import { lockDevice } from "../pci/lock.ts";
import type { MappedMmio } from "../pci/mmio.ts";
import { readPciDevice } from "../pci/sysfs.ts";
import {
  decodeDmaMap,
  decodeDmaUnmap,
  VFIO_IOCTL,
  VFIO_STRUCTS,
  type VfioIoctlName,
} from "../pci/vfio_abi.ts";
import { openVfioDevice } from "../pci/vfio_device.ts";
import { openFilesUnder } from "./_proc.ts";
import { buildSysfsTree } from "./_sysfs_fixture.ts";

const BAR0_SIZE = 16 << 20;
const CONFIG_OFFSET = BAR0_SIZE; // where the fake device file keeps config space
const NAMES = new Map(Object.entries(VFIO_IOCTL).map(([name, n]) => [n, name as VfioIoctlName]));

/**
 * A VFIO kernel in miniature: answers the ioctls the backend makes, over
 * ordinary files for the container, the group and the device (BAR0 at
 * offset 0, config space after it), and checks what it is given.
 */
class FakeVfio {
  readonly calls: string[] = [];
  readonly regionArgsz: number[] = [];
  readonly dmaMaps = new Map<bigint, bigint>();
  viable = true;
  failAt: VfioIoctlName | null = null;
  sparseBar0 = false;
  containerFd = -1;
  busMasterAtUnmap: boolean[] = [];

  constructor(readonly deviceFile: string) {}

  command(): number {
    return new DataView(Deno.readFileSync(this.deviceFile).buffer).getUint16(
      CONFIG_OFFSET + 4,
      true,
    );
  }

  ioctl: IoctlFunction = (fd, request, argument, name, context) => {
    const known = NAMES.get(request);
    assert.ok(known, `unknown request 0x${request.toString(16)}`);
    assert.equal(name, known, "the name given for messages matches the request");
    this.calls.push(known);
    if (this.failAt === known) {
      throw new OsError({
        call: `ioctl(${name})`,
        errno: 16,
        name: "EBUSY",
        path: context?.path,
        hint: context?.hints?.EBUSY,
      });
    }
    const bytes = argument instanceof Uint8Array ? argument : null;
    const view = bytes ? new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) : null;
    switch (known) {
      case "VFIO_GET_API_VERSION":
        this.containerFd = fd;
        return 0;
      case "VFIO_CHECK_EXTENSION":
      case "VFIO_SET_IOMMU":
        assert.equal(fd, this.containerFd);
        assert.equal(Number(argument), 3, "type1v2");
        return known === "VFIO_CHECK_EXTENSION" ? 1 : 0;
      case "VFIO_GROUP_GET_STATUS":
        assert.equal(view!.getUint32(0, true), 8);
        view!.setUint32(4, this.viable ? 1 : 0, true);
        return 0;
      case "VFIO_GROUP_SET_CONTAINER":
        assert.equal(view!.getInt32(0, true), this.containerFd, "attached to our container");
        return 0;
      case "VFIO_GROUP_UNSET_CONTAINER":
        return 0;
      case "VFIO_IOMMU_GET_INFO": {
        const argsz = view!.getUint32(0, true);
        const needed = 24 + 16 + 2 * 16;
        view!.setUint32(0, needed, true);
        view!.setUint32(4, 3, true);
        view!.setBigUint64(8, 0x40201000n, true);
        if (argsz < needed) return 0;
        view!.setUint32(16, 24, true);
        view!.setUint16(24, 1, true); // IOVA_RANGE
        view!.setUint16(26, 1, true);
        view!.setUint32(32, 2, true);
        view!.setBigUint64(40, 0n, true);
        view!.setBigUint64(48, 0xfedfffffn, true);
        view!.setBigUint64(56, 0xfef00000n, true);
        view!.setBigUint64(64, (1n << 48n) - 1n, true);
        return 0;
      }
      case "VFIO_GROUP_GET_DEVICE_FD":
        assert.equal(new TextDecoder().decode(bytes!), "0000:02:00.0\0");
        return open(this.deviceFile, O_RDWR);
      case "VFIO_DEVICE_GET_INFO":
        assert.equal(view!.getUint32(0, true), VFIO_STRUCTS.vfio_device_info.size);
        view!.setUint32(4, 0x3, true); // RESET | PCI
        view!.setUint32(8, 9, true);
        view!.setUint32(12, 5, true);
        return 0;
      case "VFIO_DEVICE_GET_REGION_INFO": {
        const argsz = view!.getUint32(0, true);
        this.regionArgsz.push(argsz);
        const index = view!.getUint32(8, true);
        if (index === 7) {
          view!.setUint32(4, 3, true);
          view!.setBigUint64(16, 4096n, true);
          view!.setBigUint64(24, BigInt(CONFIG_OFFSET), true);
          return 0;
        }
        assert.equal(index, 0);
        // BAR0 with capabilities that need 320 bytes: the caller must grow its buffer.
        const needed = 320;
        view!.setUint32(0, needed, true);
        view!.setUint32(4, 0xf, true);
        view!.setBigUint64(16, BigInt(BAR0_SIZE), true);
        view!.setBigUint64(24, 0n, true);
        if (argsz < needed) return 0;
        view!.setUint32(12, 32, true);
        if (this.sparseBar0) {
          view!.setUint16(32, 1, true); // SPARSE_MMAP: everything but the MSI-X page
          view!.setUint32(40, 2, true);
          view!.setBigUint64(48, 0n, true);
          view!.setBigUint64(56, 0xb90000n, true);
          view!.setBigUint64(64, 0xb91000n, true);
          view!.setBigUint64(72, BigInt(BAR0_SIZE) - 0xb91000n, true);
        } else {
          view!.setUint16(32, 3, true); // MSIX_MAPPABLE
        }
        return 0;
      }
      case "VFIO_IOMMU_MAP_DMA": {
        assert.equal(fd, this.containerFd);
        const map = decodeDmaMap(bytes!);
        assert.equal(map.argsz, 32);
        assert.equal(map.flags, 3);
        this.dmaMaps.set(map.iova, map.size);
        return 0;
      }
      case "VFIO_IOMMU_UNMAP_DMA": {
        const unmap = decodeDmaUnmap(bytes!);
        this.busMasterAtUnmap.push((this.command() & 4) !== 0);
        assert.equal(this.dmaMaps.get(unmap.iova), unmap.size);
        this.dmaMaps.delete(unmap.iova);
        return 0;
      }
      default:
        assert.fail(`unexpected ${known}`);
    }
  };
}

interface Setup extends Disposable {
  fake: FakeVfio;
  options: Parameters<typeof openVfioDevice>[1];
  info: Awaited<ReturnType<typeof readPciDevice>>;
  lockDir: string;
  /** Every file and directory the setup created, to look for leaked descriptors. */
  paths: string[];
}

async function setup(editGroup?: (driverOf01: { driver: string | null }) => void): Promise<Setup> {
  const tree = buildSysfsTree((devices) => {
    const audio = devices.find((d) => d.bdf === "0000:02:00.1")!;
    editGroup?.(audio);
  });
  const devRoot = Deno.makeTempDirSync();
  Deno.mkdirSync(`${devRoot}/vfio`);
  Deno.writeFileSync(`${devRoot}/vfio/vfio`, new Uint8Array());
  Deno.writeFileSync(`${devRoot}/vfio/13`, new Uint8Array());
  const deviceFile = Deno.makeTempFileSync();
  const bytes = new Uint8Array(CONFIG_OFFSET + 4096);
  const v = new DataView(bytes.buffer);
  v.setUint32(0, 0x172000a1, true); // a GA102 BOOT_0
  v.setUint16(CONFIG_OFFSET, 0x10de, true);
  v.setUint16(CONFIG_OFFSET + 2, 0x2204, true);
  Deno.writeFileSync(deviceFile, bytes);
  const fake = new FakeVfio(deviceFile);
  const lockDir = Deno.makeTempDirSync();
  const info = await readPciDevice("0000:02:00.0", tree.root);
  return {
    fake,
    info,
    lockDir,
    paths: [tree.root, devRoot, deviceFile, lockDir],
    options: { readOnly: false, devRoot, sysfsRoot: tree.root, lockDir, ioctl: fake.ioctl },
    [Symbol.dispose]() {
      tree[Symbol.dispose]();
      Deno.removeSync(devRoot, { recursive: true });
      Deno.removeSync(deviceFile);
    },
  };
}

Deno.test("VFIO open follows the kernel's order and releases everything in reverse", async () => {
  using s = await setup();
  const gpu = await openVfioDevice(s.info, s.options);
  assert.deepEqual(s.fake.calls, [
    "VFIO_GET_API_VERSION",
    "VFIO_CHECK_EXTENSION",
    "VFIO_GROUP_GET_STATUS",
    "VFIO_GROUP_SET_CONTAINER",
    "VFIO_SET_IOMMU",
    "VFIO_IOMMU_GET_INFO",
    "VFIO_GROUP_GET_DEVICE_FD",
    "VFIO_DEVICE_GET_INFO",
    "VFIO_DEVICE_GET_REGION_INFO",
    "VFIO_DEVICE_GET_REGION_INFO",
    "VFIO_DEVICE_GET_REGION_INFO",
  ]);
  assert.deepEqual(
    s.fake.regionArgsz,
    [256, 320, 256],
    "BAR0 info retried with the size asked for",
  );
  assert.equal(s.fake.command() & 0x6, 0x6, "memory decode and bus mastering enabled");
  assert.deepEqual(
    openFilesUnder(...s.paths).map((p) => p.slice(p.lastIndexOf("/") + 1)).sort(),
    [
      "13",
      s.fake.deviceFile.slice(s.fake.deviceFile.lastIndexOf("/") + 1),
      "falconry-0000:02:00.0.lock",
      "vfio",
    ]
      .sort(),
    "group, device, lock and container are open",
  );

  assert.equal(gpu.clock, systemClock, "a real backend carries the system clock");
  assert.equal((gpu.bar0 as MappedMmio).clock, systemClock, "and its BAR polls on it");
  assert.equal(gpu.bar0.size, BAR0_SIZE);
  assert.equal(gpu.bar0.read32(0), 0x172000a1);
  gpu.bar0.write32(0x1000, 0xabcd);
  assert.equal(gpu.config.size, 4096);
  assert.equal(gpu.config.read16(0), 0x10de);

  const ring = gpu.dma.alloc(8192);
  const page = gpu.dma.alloc(4096, { align: 1 << 16 });
  assert.equal(ring.iova, 1n << 32n, "first IOVA is the bottom of the usable window");
  assert.equal(page.iova % 0x10000n, 0n);
  assert.equal(s.fake.dmaMaps.get(ring.iova), 8192n);
  page[Symbol.dispose]();
  assert.equal(s.fake.dmaMaps.has(page.iova), false);

  s.fake.calls.length = 0;
  await gpu[Symbol.asyncDispose]();
  assert.deepEqual(s.fake.calls, ["VFIO_IOMMU_UNMAP_DMA", "VFIO_GROUP_UNSET_CONTAINER"]);
  assert.deepEqual(
    s.fake.busMasterAtUnmap,
    [true, false],
    "bus mastering is off before the last unmap",
  );
  assert.equal(s.fake.command() & 0x4, 0, "bus mastering restored to off");
  assert.equal(s.fake.dmaMaps.size, 0);
  assert.equal(ring.bytes.length, 0);
  assert.deepEqual(
    openFilesUnder(...s.paths),
    [],
    "container, group and device descriptors closed",
  );
  assert.equal(
    new DataView(Deno.readFileSync(s.fake.deviceFile).buffer).getUint32(0x1000, true),
    0xabcd,
  );
  using lock = lockDevice("0000:02:00.0", { dir: s.lockDir });
  assert.ok(lock, "lock released");
});

Deno.test("VFIO read-only: no bus mastering, no DMA, writes refused", async () => {
  using s = await setup();
  {
    await using gpu = await openVfioDevice(s.info, { ...s.options, readOnly: true });
    assert.equal(gpu.readOnly, true);
    assert.equal(s.fake.command(), 0, "command register untouched");
    assert.equal(gpu.bar0.read32(0), 0x172000a1);
    assert.throws(() => gpu.bar0.write32(0, 0), /read-only/);
    assert.throws(() => gpu.config.write16(4, 6), /read-only/);
    assert.throws(() => gpu.dma.alloc(4096), /read-only/);
  }
  assert.equal(s.fake.command(), 0);
});

Deno.test("a failure at any step releases the steps before it", async () => {
  const steps: VfioIoctlName[] = [
    "VFIO_GET_API_VERSION",
    "VFIO_GROUP_GET_STATUS",
    "VFIO_SET_IOMMU",
    "VFIO_GROUP_GET_DEVICE_FD",
    "VFIO_DEVICE_GET_REGION_INFO",
  ];
  for (const step of steps) {
    using s = await setup();
    s.fake.failAt = step;
    await assert.rejects(openVfioDevice(s.info, s.options), (e: unknown) => {
      assert.ok(e instanceof OsError, String(e));
      assert.equal(e.call, `ioctl(${step})`);
      assert.equal(e.errnoName, "EBUSY");
      return true;
    });
    assert.deepEqual(openFilesUnder(...s.paths), [], `nothing left open after ${step} failed`);
    const attached = s.fake.calls.includes("VFIO_GROUP_SET_CONTAINER");
    assert.equal(s.fake.calls.includes("VFIO_GROUP_UNSET_CONTAINER"), attached, step);
    using lock = lockDevice("0000:02:00.0", { dir: s.lockDir });
    assert.ok(lock);
  }
});

Deno.test("EBUSY on the device names who to suspect", async () => {
  using s = await setup();
  s.fake.failAt = "VFIO_GROUP_GET_DEVICE_FD";
  await assert.rejects(
    openVfioDevice(s.info, s.options),
    /EBUSY \(errno 16\); 0000:02:00\.0 is already open elsewhere/,
  );
});

Deno.test("a non-viable group names the members to rebind", async () => {
  using s = await setup((audio) => {
    audio.driver = "snd_hda_intel";
  });
  s.fake.viable = false;
  await assert.rejects(openVfioDevice(s.info, s.options), (e: unknown) => {
    assert.ok(e instanceof DeviceError);
    assert.ok(
      e.message.includes(
        "IOMMU group 13 also holds 0000:02:00.1 (snd_hda_intel); bind it to vfio-pci too",
      ),
      e.message,
    );
    assert.ok(e.message.includes("echo 10de 1aef > /sys/bus/pci/drivers/vfio-pci/new_id"));
    return true;
  });
});

Deno.test("a BAR0 that is only partly mappable is refused", async () => {
  using s = await setup();
  s.fake.sparseBar0 = true;
  await assert.rejects(openVfioDevice(s.info, s.options), /only parts of BAR0 be mapped/);
  assert.deepEqual(openFilesUnder(...s.paths), []);
});

Deno.test("missing /dev/vfio and a non-VFIO file give OsErrors with what to do", async () => {
  using s = await setup();
  const empty = Deno.makeTempDirSync();
  await assert.rejects(
    openVfioDevice(s.info, { ...s.options, devRoot: empty, ioctl: undefined }),
    (e: unknown) =>
      e instanceof OsError && e.errnoName === "ENOENT" && e.path === `${empty}/vfio/vfio` &&
      e.message.endsWith("; load VFIO: modprobe vfio-pci"),
  );
  // the real ioctl on a regular file standing in for /dev/vfio/vfio
  await assert.rejects(
    openVfioDevice(s.info, { ...s.options, ioctl: undefined }),
    (e: unknown) =>
      e instanceof OsError && e.call === "ioctl(VFIO_GET_API_VERSION)" && e.errnoName === "ENOTTY",
  );
  assert.deepEqual(openFilesUnder(...s.paths), []);
});
