/**
 * Read-only checks against a real GPU, run only when FALCONRY_TEST_DEVICE
 * names one (`FALCONRY_TEST_DEVICE=0000:01:00.0 deno test -A tests/pci_hardware_test.ts`).
 * They use the sysfs backend (VFIO would reset the function on open) and
 * never write: the device is opened read-only, so a write would throw first.
 */
import assert from "node:assert/strict";
import { DeviceError } from "../errors.ts";
import { listNvidiaGpus, normalizeBdf, openDevice, PCI_CONFIG } from "../pci/mod.ts";

const device = Deno.env.get("FALCONRY_TEST_DEVICE");
const skip = device ? "" : " (skipped: FALCONRY_TEST_DEVICE not set)";

Deno.test({
  name: `hardware: the GPU is listed with its ids${skip}`,
  ignore: !device,
  async fn() {
    const bdf = normalizeBdf(device!);
    const gpu = (await listNvidiaGpus()).find((g) => g.bdf === bdf);
    assert.ok(gpu, `${bdf} is not an NVIDIA GPU in /sys`);
    assert.equal(gpu.vendor, 0x10de);
    assert.ok(gpu.resources[0].size >= 16n << 20n, "BAR0 is at least 16 MiB");
  },
});

Deno.test({
  name: `hardware: read-only BAR0 and config space${skip}`,
  ignore: !device,
  async fn() {
    await using gpu = await openDevice(device!, { readOnly: true, backend: "sysfs" });
    assert.equal(gpu.readOnly, true);
    assert.equal(gpu.config.read16(PCI_CONFIG.vendorId), 0x10de);
    assert.equal(gpu.config.read16(PCI_CONFIG.deviceId), gpu.info.device);
    const boot0 = gpu.bar0.read32(0x0);
    assert.notEqual(boot0, 0xffffffff, "BAR0 answers (memory decoding on, device awake)");
    assert.notEqual(boot0, 0);
    assert.throws(() => gpu.bar0.write32(0x0, boot0), DeviceError);
    assert.throws(() => gpu.config.write16(PCI_CONFIG.command, 0), DeviceError);
    assert.equal(gpu.bar0.read32(0x0), boot0);
  },
});
