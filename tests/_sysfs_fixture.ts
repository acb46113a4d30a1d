/**
 * Builds a sysfs tree in a temporary directory from
 * `tests/fixtures/sysfs/devices.json`, with the kernel's layout: device
 * directories under `devices/pci0000:00/…`, `bus/pci/devices/<BDF>` links to
 * them, relative `driver` and `iommu_group` links, and
 * `kernel/iommu_groups/<n>/devices/<BDF>` links back. `resource0` files are
 * sparse files of BAR0's size; `config` holds the ids at their offsets.
 *
 * @module
 */

const SPEC_URL = new URL("./fixtures/sysfs/devices.json", import.meta.url);

/** One device of the fixture, as written in the JSON. */
export interface FixtureDevice {
  bdf: string;
  parent: string;
  vendor: string;
  device: string;
  subsystemVendor: string;
  subsystemDevice: string;
  revision: string;
  class: string;
  driver: string | null;
  iommuGroup: number | null;
  numaNode: number;
  resources: [string, string, string][];
  bar0File?: boolean;
}

/** A built tree; dispose to delete it. */
export interface SysfsFixture extends Disposable {
  /** The sysfs root to pass to the code under test. */
  root: string;
  /** The devices in the spec. */
  devices: FixtureDevice[];
  /** `<root>/bus/pci/devices/<bdf>`. */
  devicePath(bdf: string): string;
}

/** Number of lines the kernel prints in `resource` for a device (BARs, ROM, IOV, bridge). */
const RESOURCE_LINES = 13;
const ZERO = "0x0000000000000000";

function relative(depth: number, target: string): string {
  return `${"../".repeat(depth)}${target}`;
}

function configSpace(d: FixtureDevice): Uint8Array {
  const bytes = new Uint8Array(4096);
  const v = new DataView(bytes.buffer);
  v.setUint16(0x00, parseInt(d.vendor, 16), true);
  v.setUint16(0x02, parseInt(d.device, 16), true);
  v.setUint16(0x04, d.driver !== null && d.driver !== "vfio-pci" ? 0x0007 : 0x0002, true);
  v.setUint8(0x08, parseInt(d.revision, 16));
  const cls = parseInt(d.class, 16);
  v.setUint8(0x09, cls & 0xff);
  v.setUint16(0x0a, cls >> 8, true);
  v.setUint16(0x2c, parseInt(d.subsystemVendor, 16), true);
  v.setUint16(0x2e, parseInt(d.subsystemDevice, 16), true);
  return bytes;
}

/**
 * Build the tree.
 *
 * @param edit Change the spec before building (e.g. rebind a driver).
 * @returns The fixture.
 */
export function buildSysfsTree(edit?: (devices: FixtureDevice[]) => void): SysfsFixture {
  const spec = JSON.parse(Deno.readTextFileSync(SPEC_URL)) as { devices: FixtureDevice[] };
  const devices = spec.devices;
  edit?.(devices);
  const root = Deno.makeTempDirSync({ prefix: "falconry-sysfs-" });
  Deno.mkdirSync(`${root}/bus/pci/devices`, { recursive: true });
  for (const d of devices) {
    const rel = `devices/${d.parent}/${d.bdf}`;
    const dir = `${root}/${rel}`;
    const depth = rel.split("/").length;
    Deno.mkdirSync(dir, { recursive: true });
    const attributes: Record<string, string> = {
      vendor: d.vendor,
      device: d.device,
      subsystem_vendor: d.subsystemVendor,
      subsystem_device: d.subsystemDevice,
      revision: d.revision,
      class: d.class,
      numa_node: String(d.numaNode),
    };
    for (const [name, value] of Object.entries(attributes)) {
      Deno.writeTextFileSync(`${dir}/${name}`, `${value}\n`);
    }
    const lines = Array.from(
      { length: RESOURCE_LINES },
      (_, i) => d.resources[i] ?? [ZERO, ZERO, ZERO],
    );
    Deno.writeTextFileSync(`${dir}/resource`, lines.map((l) => `${l.join(" ")}\n`).join(""));
    Deno.writeFileSync(`${dir}/config`, configSpace(d));
    if (d.bar0File) {
      const [start, end] = d.resources[0].map((x) => BigInt(x));
      Deno.writeFileSync(`${dir}/resource0`, new Uint8Array(0));
      Deno.truncateSync(`${dir}/resource0`, Number(end - start + 1n));
    }
    if (d.driver !== null) {
      Deno.mkdirSync(`${root}/bus/pci/drivers/${d.driver}`, { recursive: true });
      Deno.symlinkSync(relative(depth, `bus/pci/drivers/${d.driver}`), `${dir}/driver`);
    }
    if (d.iommuGroup !== null) {
      const groupDir = `${root}/kernel/iommu_groups/${d.iommuGroup}/devices`;
      Deno.mkdirSync(groupDir, { recursive: true });
      Deno.symlinkSync(relative(4, rel), `${groupDir}/${d.bdf}`);
      Deno.symlinkSync(
        relative(depth, `kernel/iommu_groups/${d.iommuGroup}`),
        `${dir}/iommu_group`,
      );
    }
    Deno.symlinkSync(relative(3, rel), `${root}/bus/pci/devices/${d.bdf}`);
  }
  return {
    root,
    devices,
    devicePath: (bdf) => `${root}/bus/pci/devices/${bdf}`,
    [Symbol.dispose]() {
      Deno.removeSync(root, { recursive: true });
    },
  };
}
