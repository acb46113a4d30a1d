import assert from "node:assert/strict";
import * as pci from "../pci/mod.ts";
import { buildSysfsTree } from "./_sysfs_fixture.ts";

Deno.test("mod.ts exports the public API", () => {
  for (
    const name of [
      "openDevice",
      "listNvidiaGpus",
      "listPciDevices",
      "readPciDevice",
      "iommuGroupMembers",
      "normalizeBdf",
      "isNvidiaGpu",
      "MappedMmio",
      "pollValue",
      "writeBarrier",
      "systemClock",
      "ManualClock",
      "lockDevice",
      "DeviceLock",
      "IovaAllocator",
      "IommuDmaAllocator",
      "checkDeviceAccess",
      "vfioBindCommands",
      "errnoName",
      "OsError",
      "DeviceError",
      "HardwareTimeoutError",
    ]
  ) {
    assert.ok(name in pci, name);
  }
  assert.equal(typeof pci.libc.ioctl, "function");
  assert.equal(pci.vfioAbi.VFIO_IOCTL.VFIO_IOMMU_MAP_DMA, 0x3b71);
});

Deno.test("importing needs no permission; discovery of a copied tree needs only --allow-read", async () => {
  using tree = buildSysfsTree();
  const script = Deno.makeTempFileSync({ suffix: ".ts" });
  const url = new URL("../pci/mod.ts", import.meta.url).href;
  Deno.writeTextFileSync(
    script,
    `import { listNvidiaGpus, listPciDevices, libc } from ${JSON.stringify(url)};
const gpus = await listNvidiaGpus(${JSON.stringify(tree.root)});
const refusals = [];
try { libc.pageSize(); } catch (e) { refusals.push(e.message); }
try { await listPciDevices("/sys"); } catch (e) { refusals.push(e.message); }
console.log(JSON.stringify({ gpus: gpus.map((g) => g.bdf), refusals }));
`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", `--allow-read=${tree.root}`, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const result = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(result.gpus.length, 5);
  assert.deepEqual(result.refusals, [
    "calling libc needs --allow-ffi (or -A)",
    "reading /sys was refused: run with -A (Deno allows reading /sys only with --allow-all)",
  ]);
});
