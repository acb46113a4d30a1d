import assert from "node:assert/strict";
import { DeviceError } from "../errors.ts";
import {
  iommuGroupMembers,
  isNvidiaGpu,
  listNvidiaGpus,
  listPciDevices,
  normalizeBdf,
  parseResourceTable,
  readPciDevice,
} from "../pci/sysfs.ts";
import { buildSysfsTree } from "./_sysfs_fixture.ts";

Deno.test("fixture tree has the kernel's link layout", () => {
  using tree = buildSysfsTree();
  const link = Deno.readLinkSync(`${tree.root}/bus/pci/devices/0000:01:00.0`);
  assert.equal(link, "../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0");
  const dir = `${tree.root}/devices/pci0000:00/0000:00:01.0/0000:01:00.0`;
  assert.equal(Deno.readLinkSync(`${dir}/driver`), "../../../../bus/pci/drivers/nouveau");
  assert.equal(Deno.readLinkSync(`${dir}/iommu_group`), "../../../../kernel/iommu_groups/12");
  // links resolve
  assert.ok(Deno.statSync(`${tree.root}/bus/pci/devices/0000:01:00.0/driver`).isDirectory);
  assert.ok(
    Deno.statSync(`${tree.root}/kernel/iommu_groups/12/devices/0000:01:00.0/vendor`).isFile,
  );
  assert.equal(
    Deno.realPathSync(`${tree.root}/bus/pci/devices/0000:00:00.0`),
    Deno.realPathSync(`${tree.root}/devices/pci0000:00/0000:00:00.0`),
  );
});

Deno.test("readPciDevice reads ids, class, driver, group, NUMA node and BARs", async () => {
  using tree = buildSysfsTree();
  const tu102 = await readPciDevice("01:00.0", tree.root);
  assert.equal(tu102.bdf, "0000:01:00.0");
  assert.equal(tu102.vendor, 0x10de);
  assert.equal(tu102.device, 0x1e07);
  assert.equal(tu102.subsystemVendor, 0x10de);
  assert.equal(tu102.subsystemDevice, 0x12fa);
  assert.equal(tu102.revision, 0xa1);
  assert.equal(tu102.class, 0x030000);
  assert.equal(tu102.driver, "nouveau");
  assert.equal(tu102.iommuGroup, 12);
  assert.equal(tu102.numaNode, 0);
  assert.equal(tu102.path, `${tree.root}/bus/pci/devices/0000:01:00.0`);
  assert.equal(tu102.resources.length, 13);
  const [bar0, bar1, bar2, bar3, , bar5, rom] = tu102.resources;
  assert.deepEqual(
    [bar0.start, bar0.size, bar0.kind, bar0.prefetchable, bar0.is64Bit],
    [0xf6000000n, 0x1000000n, "mem", false, false],
  );
  assert.deepEqual([bar1.size, bar1.prefetchable, bar1.is64Bit], [0x10000000n, true, true]);
  assert.deepEqual([bar2.size, bar2.kind], [0n, "none"]);
  assert.equal(bar3.size, 32n << 20n);
  assert.deepEqual([bar5.kind, bar5.size], ["io", 0x80n]);
  assert.equal(rom.size, 0x80000n);
  assert.equal(rom.flags & 0x4000, 0x4000);

  const h100 = await readPciDevice("0000:03:00.0", tree.root);
  assert.equal(h100.driver, null);
  assert.equal(h100.numaNode, 1);
  assert.equal(h100.class, 0x030200);
  assert.equal(h100.resources[0].is64Bit, true);

  const host = await readPciDevice("0000:00:00.0", tree.root);
  assert.equal(host.numaNode, null);
  assert.equal(host.resources.every((r) => r.size === 0n), true);

  const t4 = await readPciDevice("0000:06:00.0", tree.root);
  assert.equal(t4.iommuGroup, null);
});

Deno.test("listPciDevices lists every function sorted; listNvidiaGpus keeps GPUs only", async () => {
  using tree = buildSysfsTree();
  const all = await listPciDevices(tree.root);
  assert.deepEqual(all.map((d) => d.bdf), tree.devices.map((d) => d.bdf).sort());
  const gpus = await listNvidiaGpus(tree.root);
  assert.deepEqual(gpus.map((g) => g.bdf), [
    "0000:01:00.0",
    "0000:02:00.0",
    "0000:03:00.0",
    "0000:05:00.0",
    "0000:06:00.0",
  ]);
  assert.ok(!gpus.some((g) => g.vendor === 0x1002), "the AMD GPU is not listed");
  assert.ok(!gpus.some((g) => g.bdf === "0000:01:00.1"), "the HDMI audio function is not a GPU");
});

Deno.test("a missing tree lists nothing", async () => {
  assert.deepEqual(await listPciDevices("/nonexistent-sysfs"), []);
});

Deno.test("iommuGroupMembers lists the group's functions", async () => {
  using tree = buildSysfsTree();
  assert.deepEqual(await iommuGroupMembers(12, tree.root), [
    "0000:01:00.0",
    "0000:01:00.1",
    "0000:01:00.2",
    "0000:01:00.3",
  ]);
  assert.deepEqual(await iommuGroupMembers(13, tree.root), ["0000:02:00.0", "0000:02:00.1"]);
  assert.deepEqual(await iommuGroupMembers(99, tree.root), []);
});

Deno.test("a missing device is a DeviceError with what to do", async () => {
  using tree = buildSysfsTree();
  await assert.rejects(readPciDevice("0000:09:00.0", tree.root), (e: unknown) => {
    assert.ok(e instanceof DeviceError);
    assert.equal(e.bdf, "0000:09:00.0");
    assert.match(e.message, /not found in .*bus\/pci\/devices; list GPUs with `lspci -D -d 10de:`/);
    return true;
  });
});

Deno.test("a malformed attribute is a DeviceError naming the file", async () => {
  using tree = buildSysfsTree();
  Deno.writeTextFileSync(`${tree.devicePath("0000:01:00.0")}/vendor`, "nvidia\n");
  await assert.rejects(readPciDevice("0000:01:00.0", tree.root), (e: unknown) => {
    assert.ok(e instanceof DeviceError);
    assert.match(e.message, /vendor is not a hex number: "nvidia"/);
    return true;
  });
  Deno.removeSync(`${tree.devicePath("0000:02:00.0")}/class`);
  await assert.rejects(readPciDevice("0000:02:00.0", tree.root), /class is missing/);
});

Deno.test("normalizeBdf canonicalises and rejects", () => {
  assert.equal(normalizeBdf("01:00.0"), "0000:01:00.0");
  assert.equal(normalizeBdf(" 0000:AF:1F.7 "), "0000:af:1f.7");
  for (const bad of ["", "1:0.0", "0000:01:00.8", "0000:01:00", "../../etc", "0000:01:00.0/.."]) {
    assert.throws(() => normalizeBdf(bad), DeviceError, bad);
  }
});

Deno.test("isNvidiaGpu accepts VGA and 3D controllers only", () => {
  assert.ok(isNvidiaGpu({ vendor: 0x10de, class: 0x030000 }));
  assert.ok(isNvidiaGpu({ vendor: 0x10de, class: 0x030200 }));
  assert.ok(!isNvidiaGpu({ vendor: 0x10de, class: 0x038000 }));
  assert.ok(!isNvidiaGpu({ vendor: 0x10de, class: 0x040300 }));
  assert.ok(!isNvidiaGpu({ vendor: 0x1002, class: 0x030000 }));
});

Deno.test("parseResourceTable rejects malformed lines", () => {
  assert.throws(() => parseResourceTable("0x0 0x1\n", "0000:01:00.0"), /malformed line 0/);
  assert.throws(() => parseResourceTable("0x0 0x1 zz\n"), DeviceError);
  assert.deepEqual(parseResourceTable(""), []);
});

Deno.test("the machine's own sysfs parses (read-only)", async () => {
  const all = await listPciDevices();
  for (const d of all) {
    assert.match(d.bdf, /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/);
    assert.ok(d.vendor > 0 && d.vendor < 0x10000);
  }
});
