import assert from "node:assert/strict";
import { DeviceError } from "../errors.ts";
import type { DeviceInfo } from "../pci/device.ts";
import {
  checkDeviceAccess,
  groupNotViableError,
  KERNEL_GPU_DRIVERS,
  vfioBindCommands,
} from "../pci/safety.ts";

const TU102: DeviceInfo = {
  bdf: "0000:01:00.0",
  vendor: 0x10de,
  device: 0x1e07,
  subsystemVendor: 0x10de,
  subsystemDevice: 0x12fa,
  revision: 0xa1,
  class: 0x030000,
  driver: null,
  iommuGroup: 12,
  numaNode: 0,
};

function refusal(info: DeviceInfo, readOnly: boolean, backend: "sysfs" | "vfio"): DeviceError {
  try {
    checkDeviceAccess(info, { readOnly, backend });
  } catch (e) {
    if (e instanceof DeviceError) return e;
    throw e;
  }
  assert.fail(`expected a refusal for ${info.driver} readOnly=${readOnly} ${backend}`);
}

Deno.test("write access is refused while any kernel GPU driver is bound", () => {
  assert.deepEqual(KERNEL_GPU_DRIVERS, ["nvidia", "nouveau", "nova_core", "nova-core"]);
  for (const driver of KERNEL_GPU_DRIVERS) {
    const info = { ...TU102, driver };
    const e = refusal(info, false, "sysfs");
    assert.equal(e.bdf, "0000:01:00.0");
    assert.ok(
      e.message.startsWith(
        `0000:01:00.0: driven by the kernel's ${driver} driver; refusing write access; `,
      ),
    );
    assert.ok(
      e.message.includes("echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind"),
    );
    assert.ok(e.message.includes("echo 10de 1e07 > /sys/bus/pci/drivers/vfio-pci/new_id"));
    checkDeviceAccess(info, { readOnly: true, backend: "sysfs" }); // reading is allowed
  }
});

Deno.test("VFIO needs vfio-pci and an IOMMU group", () => {
  checkDeviceAccess({ ...TU102, driver: "vfio-pci" }, { readOnly: false, backend: "vfio" });
  const unbound = refusal(TU102, false, "vfio");
  assert.match(unbound.message, /bound to no driver, but VFIO needs vfio-pci/);
  assert.ok(!unbound.message.includes("driver/unbind"), "nothing to unbind");
  assert.match(
    refusal({ ...TU102, driver: "nvidia" }, true, "vfio").message,
    /VFIO needs vfio-pci|refusing/,
  );
  const noGroup = refusal({ ...TU102, driver: "vfio-pci", iommuGroup: null }, false, "vfio");
  assert.match(noGroup.message, /no IOMMU group.*intel_iommu=on or amd_iommu=on/);
});

Deno.test("non-NVIDIA devices and non-GPU NVIDIA functions are refused, even read-only", () => {
  const amd = refusal({ ...TU102, vendor: 0x1002, device: 0x73bf }, true, "sysfs");
  assert.match(amd.message, /not an NVIDIA device \(vendor 0x1002\)/);
  const audio = refusal(
    { ...TU102, bdf: "0000:01:00.1", device: 0x10f7, class: 0x040300 },
    true,
    "sysfs",
  );
  assert.match(audio.message, /class 0x040300, not a GPU/);
});

Deno.test("an unbound GPU may be written through sysfs", () => {
  checkDeviceAccess(TU102, { readOnly: false, backend: "sysfs" });
  checkDeviceAccess({ ...TU102, class: 0x030200 }, { readOnly: false, backend: "sysfs" });
});

Deno.test("vfioBindCommands are exact shell lines", () => {
  assert.deepEqual(vfioBindCommands({ ...TU102, driver: "nouveau" }), [
    "modprobe vfio-pci",
    "echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind",
    "echo 10de 1e07 > /sys/bus/pci/drivers/vfio-pci/new_id",
  ]);
  assert.deepEqual(
    vfioBindCommands({ bdf: "0000:0a:00.0", vendor: 0x10de, device: 0x2b85, driver: null }),
    [
      "modprobe vfio-pci",
      "echo 10de 2b85 > /sys/bus/pci/drivers/vfio-pci/new_id",
    ],
  );
});

Deno.test("a non-viable group names each blocking member and how to bind it", () => {
  const e = groupNotViableError(TU102, [
    { bdf: "0000:01:00.1", vendor: 0x10de, device: 0x10f7, driver: "snd_hda_intel" },
    { bdf: "0000:01:00.2", vendor: 0x10de, device: 0x1ad6, driver: "xhci_hcd" },
    { bdf: "0000:01:00.3", vendor: 0x10de, device: 0x1ad7, driver: "vfio-pci" },
  ]);
  assert.ok(e instanceof DeviceError);
  assert.ok(
    e.message.includes(
      "IOMMU group 12 also holds 0000:01:00.1 (snd_hda_intel), 0000:01:00.2 (xhci_hcd); bind them to vfio-pci too",
    ),
    e.message,
  );
  assert.ok(
    e.message.includes("echo 0000:01:00.1 > /sys/bus/pci/devices/0000:01:00.1/driver/unbind"),
  );
  assert.ok(e.message.includes("echo 10de 1ad6 > /sys/bus/pci/drivers/vfio-pci/new_id"));
  assert.ok(!e.message.includes("0000:01:00.3"), "members already on vfio-pci are not blamed");
  const single = groupNotViableError(TU102, [
    { bdf: "0000:01:00.1", vendor: 0x10de, device: 0x10f7, driver: "snd_hda_intel" },
  ]);
  assert.match(
    single.message,
    /also holds 0000:01:00\.1 \(snd_hda_intel\); bind it to vfio-pci too/,
  );
  assert.match(groupNotViableError(TU102, []).message, /IOMMU group 12 is not viable/);
});
