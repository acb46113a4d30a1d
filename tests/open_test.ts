import assert from "node:assert/strict";
import { DeviceError } from "../errors.ts";
import { openDevice } from "../pci/open.ts";
import { buildSysfsTree } from "./_sysfs_fixture.ts";

Deno.test("write access to a GPU held by a kernel driver is refused with the bind commands", async () => {
  using tree = buildSysfsTree();
  for (
    const [bdf, driver, id] of [["0000:01:00.0", "nouveau", "10de 1e07"], [
      "0000:05:00.0",
      "nvidia",
      "10de 2684",
    ]]
  ) {
    for (const backend of ["sysfs", "vfio"] as const) {
      await assert.rejects(
        openDevice(bdf, { backend, sysfsRoot: tree.root, lockDir: Deno.makeTempDirSync() }),
        (e: unknown) => {
          assert.ok(e instanceof DeviceError);
          assert.ok(
            e.message.includes(`driven by the kernel's ${driver} driver; refusing write access`),
          );
          assert.ok(e.message.includes(`echo ${bdf} > /sys/bus/pci/devices/${bdf}/driver/unbind`));
          assert.ok(e.message.includes(`echo ${id} > /sys/bus/pci/drivers/vfio-pci/new_id`));
          return true;
        },
      );
    }
  }
});

Deno.test("nova-core counts as a kernel GPU driver", async () => {
  using tree = buildSysfsTree((devices) => {
    devices.find((d) => d.bdf === "0000:03:00.0")!.driver = "nova-core";
  });
  await assert.rejects(
    openDevice("0000:03:00.0", { backend: "sysfs", sysfsRoot: tree.root }),
    /kernel's nova-core driver; refusing write access/,
  );
});

Deno.test("non-NVIDIA devices and NVIDIA non-GPU functions are refused", async () => {
  using tree = buildSysfsTree();
  await assert.rejects(
    openDevice("0000:04:00.0", { readOnly: true, sysfsRoot: tree.root }),
    /not an NVIDIA device \(vendor 0x1002\)/,
  );
  await assert.rejects(
    openDevice("0000:01:00.1", { readOnly: true, sysfsRoot: tree.root }),
    /class 0x040300, not a GPU/,
  );
  await assert.rejects(
    openDevice("0000:00:00.0", { readOnly: true, sysfsRoot: tree.root }),
    /not an NVIDIA device/,
  );
});

Deno.test("the default backend is vfio for writing: an unbound GPU gets the bind commands", async () => {
  using tree = buildSysfsTree();
  await assert.rejects(openDevice("03:00.0", { sysfsRoot: tree.root }), (e: unknown) => {
    assert.ok(e instanceof DeviceError);
    assert.match(e.message, /bound to no driver, but VFIO needs vfio-pci/);
    assert.match(
      e.message,
      /modprobe vfio-pci; echo 10de 2330 > \/sys\/bus\/pci\/drivers\/vfio-pci\/new_id/,
    );
    return true;
  });
  await assert.rejects(
    openDevice("0000:06:00.0", { sysfsRoot: tree.root }),
    /bound to no driver/,
  );
});

Deno.test("a GPU without an IOMMU group cannot use VFIO", async () => {
  using tree = buildSysfsTree((devices) => {
    devices.find((d) => d.bdf === "0000:06:00.0")!.driver = "vfio-pci";
  });
  await assert.rejects(
    openDevice("0000:06:00.0", { sysfsRoot: tree.root }),
    /has no IOMMU group, so VFIO cannot isolate it/,
  );
});

Deno.test("a missing device or a bad address is a DeviceError", async () => {
  using tree = buildSysfsTree();
  await assert.rejects(openDevice("0000:0f:00.0", { sysfsRoot: tree.root }), /not found in/);
  await assert.rejects(openDevice("gpu0", { sysfsRoot: tree.root }), /not a PCI address/);
});
