import assert from "node:assert/strict";
import { FalconryError } from "../errors.ts";
import {
  capabilityChain,
  decodeDeviceInfo,
  decodeDmaMap,
  decodeDmaUnmap,
  decodeGroupStatus,
  decodeIommuInfo,
  decodeRegionInfo,
  encodeCString,
  encodeDeviceInfo,
  encodeDmaMap,
  encodeDmaUnmap,
  encodeGroupStatus,
  encodeInt32,
  encodeIommuInfo,
  encodeRegionInfo,
  VFIO_IOCTL,
  VFIO_IOMMU_TYPE,
  VFIO_PCI_REGION,
  VFIO_STRUCTS,
  vfioIo,
} from "../pci/vfio_abi.ts";

// Expected values written from linux/vfio.h: _IO(';', 100 + n) = (0x3b << 8) | (100 + n).
const EXPECTED_IOCTLS: Record<string, number> = {
  VFIO_GET_API_VERSION: 0x3b64,
  VFIO_CHECK_EXTENSION: 0x3b65,
  VFIO_SET_IOMMU: 0x3b66,
  VFIO_GROUP_GET_STATUS: 0x3b67,
  VFIO_GROUP_SET_CONTAINER: 0x3b68,
  VFIO_GROUP_UNSET_CONTAINER: 0x3b69,
  VFIO_GROUP_GET_DEVICE_FD: 0x3b6a,
  VFIO_DEVICE_GET_INFO: 0x3b6b,
  VFIO_DEVICE_GET_REGION_INFO: 0x3b6c,
  VFIO_DEVICE_RESET: 0x3b6f,
  VFIO_IOMMU_GET_INFO: 0x3b70,
  VFIO_IOMMU_MAP_DMA: 0x3b71,
  VFIO_IOMMU_UNMAP_DMA: 0x3b72,
};

Deno.test("ioctl request numbers match linux/vfio.h", () => {
  assert.deepEqual({ ...VFIO_IOCTL }, EXPECTED_IOCTLS);
  assert.equal(vfioIo(0), 0x3b64);
  assert.equal(VFIO_IOMMU_TYPE.TYPE1v2, 3);
  assert.equal(VFIO_PCI_REGION.CONFIG, 7);
});

Deno.test("struct sizes and field offsets match the kernel ABI", () => {
  const sizes = Object.fromEntries(Object.entries(VFIO_STRUCTS).map(([k, v]) => [k, v.size]));
  assert.deepEqual(sizes, {
    vfio_info_cap_header: 8,
    vfio_group_status: 8,
    vfio_device_info: 24,
    vfio_region_info: 32,
    vfio_region_sparse_mmap_area: 16,
    vfio_region_info_cap_sparse_mmap: 16,
    vfio_iommu_type1_info: 24,
    vfio_iova_range: 16,
    vfio_iommu_type1_info_cap_iova_range: 16,
    vfio_iommu_type1_dma_map: 32,
    vfio_iommu_type1_dma_unmap: 24,
  });
  assert.deepEqual(VFIO_STRUCTS.vfio_region_info.fields, {
    argsz: 0,
    flags: 4,
    index: 8,
    cap_offset: 12,
    size: 16,
    offset: 24,
  });
  assert.deepEqual(VFIO_STRUCTS.vfio_iommu_type1_dma_map.fields, {
    argsz: 0,
    flags: 4,
    vaddr: 8,
    iova: 16,
    size: 24,
  });
});

function ccAvailable(): boolean {
  try {
    return new Deno.Command("cc", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync()
      .success && Deno.statSync("/usr/include/linux/vfio.h").isFile;
  } catch {
    return false;
  }
}

const HAVE_CC = ccAvailable();

Deno.test({
  name: `ABI numbers, sizes and offsets agree with /usr/include/linux/vfio.h compiled by cc${
    HAVE_CC ? "" : " (skipped: no cc or no linux/vfio.h)"
  }`,
  ignore: !HAVE_CC,
  fn() {
    // Fields a header may lack: the pad added to vfio_device_info in 2023.
    const optional = new Set(["vfio_device_info.pad"]);
    const lines = [
      "#include <stdio.h>",
      "#include <stddef.h>",
      "#include <linux/vfio.h>",
      "int main(void) {",
    ];
    lines.push('  printf("{");');
    for (const name of Object.keys(EXPECTED_IOCTLS)) {
      lines.push(`  printf("\\"ioctl.${name}\\": %lu, ", (unsigned long)${name});`);
    }
    for (const [struct, layout] of Object.entries(VFIO_STRUCTS)) {
      lines.push(`  printf("\\"size.${struct}\\": %zu, ", sizeof(struct ${struct}));`);
      for (const field of Object.keys(layout.fields)) {
        if (optional.has(`${struct}.${field}`)) continue;
        lines.push(
          `  printf("\\"offset.${struct}.${field}\\": %zu, ", offsetof(struct ${struct}, ${field}));`,
        );
      }
    }
    lines.push(
      '  printf("\\"VFIO_TYPE1v2_IOMMU\\": %d, \\"VFIO_PCI_CONFIG_REGION_INDEX\\": %d, ' +
        '\\"VFIO_API_VERSION\\": %d}\\n", VFIO_TYPE1v2_IOMMU, VFIO_PCI_CONFIG_REGION_INDEX, VFIO_API_VERSION);',
      "  return 0;",
      "}",
    );
    const dir = Deno.makeTempDirSync();
    try {
      Deno.writeTextFileSync(`${dir}/abi.c`, lines.join("\n"));
      const build = new Deno.Command("cc", { args: ["-o", `${dir}/abi`, `${dir}/abi.c`] })
        .outputSync();
      assert.ok(build.success, new TextDecoder().decode(build.stderr));
      const run = new Deno.Command(`${dir}/abi`).outputSync();
      const kernel = JSON.parse(new TextDecoder().decode(run.stdout)) as Record<string, number>;

      for (const [name, value] of Object.entries(EXPECTED_IOCTLS)) {
        assert.equal(kernel[`ioctl.${name}`], value, name);
      }
      assert.equal(kernel.VFIO_TYPE1v2_IOMMU, VFIO_IOMMU_TYPE.TYPE1v2);
      assert.equal(kernel.VFIO_PCI_CONFIG_REGION_INDEX, VFIO_PCI_REGION.CONFIG);
      assert.equal(kernel.VFIO_API_VERSION, 0);
      for (const [struct, layout] of Object.entries(VFIO_STRUCTS)) {
        for (const [field, offset] of Object.entries(layout.fields)) {
          if (optional.has(`${struct}.${field}`)) continue;
          assert.equal(kernel[`offset.${struct}.${field}`], offset, `${struct}.${field}`);
        }
        const size = kernel[`size.${struct}`];
        if (struct === "vfio_device_info" && size === 20) {
          continue; // header older than the trailing pad; the kernel accepts argsz 20 or 24
        }
        assert.equal(size, layout.size, `sizeof(struct ${struct})`);
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

Deno.test("group status: argsz in, flags out", () => {
  const request = encodeGroupStatus();
  assert.deepEqual([...request], [8, 0, 0, 0, 0, 0, 0, 0]);
  request[4] = 1;
  assert.deepEqual(decodeGroupStatus(request), { flags: 1, viable: true, containerSet: false });
  request[4] = 2;
  assert.deepEqual(decodeGroupStatus(request), { flags: 2, viable: false, containerSet: true });
  assert.throws(() => decodeGroupStatus(new Uint8Array(4)), FalconryError);
});

Deno.test("device info round trip", () => {
  const b = encodeDeviceInfo();
  assert.equal(new DataView(b.buffer).getUint32(0, true), 24);
  const v = new DataView(b.buffer);
  v.setUint32(4, 0x3, true);
  v.setUint32(8, 9, true);
  v.setUint32(12, 5, true);
  assert.deepEqual(decodeDeviceInfo(b), {
    argsz: 24,
    flags: 3,
    numRegions: 9,
    numIrqs: 5,
    capOffset: 0,
  });
});

Deno.test("region info: request, plain answer, and capability chain", () => {
  const request = encodeRegionInfo(VFIO_PCI_REGION.CONFIG);
  assert.equal(request.length, 32);
  const v = new DataView(request.buffer);
  assert.deepEqual([v.getUint32(0, true), v.getUint32(8, true)], [32, 7]);
  // what vfio-pci answers for config space: read|write, 4 KiB at 7 << 40
  v.setUint32(4, 3, true);
  v.setBigUint64(16, 4096n, true);
  v.setBigUint64(24, 7n << 40n, true);
  const config = decodeRegionInfo(request);
  assert.equal(config.index, 7);
  assert.equal(config.size, 4096n);
  assert.equal(config.offset, 0x70000000000n);
  assert.deepEqual(config.caps, []);
  assert.equal(config.sparseAreas, null);

  // BAR0 with MSIX_MAPPABLE then SPARSE_MMAP (two areas around a hole)
  const bar = encodeRegionInfo(0, 96);
  const w = new DataView(bar.buffer);
  w.setUint32(0, 96, true);
  w.setUint32(4, 0xf, true);
  w.setUint32(12, 32, true);
  w.setBigUint64(16, 0x1000000n, true);
  w.setUint16(32, 3, true); // MSIX_MAPPABLE, version 1, next 40
  w.setUint16(34, 1, true);
  w.setUint32(36, 40, true);
  w.setUint16(40, 1, true); // SPARSE_MMAP, next 0
  w.setUint16(42, 1, true);
  w.setUint32(48, 2, true); // nr_areas
  w.setBigUint64(56, 0n, true);
  w.setBigUint64(64, 0xb90000n, true);
  w.setBigUint64(72, 0xb91000n, true);
  w.setBigUint64(80, 0x1000000n - 0xb91000n, true);
  const info = decodeRegionInfo(bar);
  assert.deepEqual(info.caps.map((c) => [c.id, c.version, c.offset]), [[3, 1, 32], [1, 1, 40]]);
  assert.equal(info.msixMappable, true);
  assert.deepEqual(info.sparseAreas, [
    { offset: 0n, size: 0xb90000n },
    { offset: 0xb91000n, size: 0x46f000n },
  ]);

  // argsz larger than the buffer: caps are not read (the caller retries with a bigger one)
  const short = encodeRegionInfo(0);
  new DataView(short.buffer).setUint32(0, 96, true);
  new DataView(short.buffer).setUint32(4, 0xf, true);
  new DataView(short.buffer).setUint32(12, 32, true);
  assert.deepEqual(decodeRegionInfo(short).caps, []);
});

Deno.test("capability chains are bounded", () => {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  v.setUint32(32 + 4, 32, true); // points at itself
  assert.throws(() => capabilityChain(b, 32, 32), /bad entry at offset 32/);
  v.setUint32(32 + 4, 8, true); // points into the fixed struct
  assert.throws(() => capabilityChain(b, 32, 32), FalconryError);
  assert.throws(() => capabilityChain(b, 60, 32), FalconryError, "header runs past the end");
  assert.throws(() => capabilityChain(b, 34, 32), FalconryError, "misaligned");
  assert.deepEqual(capabilityChain(b, 0, 32), []);
  // a sparse cap claiming more areas than fit
  const bar = encodeRegionInfo(0, 48);
  const w = new DataView(bar.buffer);
  w.setUint32(4, 8, true);
  w.setUint32(12, 32, true);
  w.setUint16(32, 1, true);
  w.setUint32(40, 1000, true);
  assert.throws(() => decodeRegionInfo(bar), /1000 areas do not fit/);
});

Deno.test("DMA map and unmap structs", () => {
  const map = encodeDmaMap({ vaddr: 0x7f12_3456_7000n, iova: 0x1_0000_0000n, size: 0x20_0000n });
  assert.equal(map.length, 32);
  assert.deepEqual(decodeDmaMap(map), {
    argsz: 32,
    flags: 3,
    vaddr: 0x7f1234567000n,
    iova: 0x100000000n,
    size: 0x200000n,
  });
  assert.equal(decodeDmaMap(encodeDmaMap({ vaddr: 0n, iova: 0n, size: 0n, flags: 1 })).flags, 1);
  const unmap = encodeDmaUnmap(0x1_0000_0000n, 0x1000n);
  assert.equal(unmap.length, 24);
  assert.deepEqual([...unmap.subarray(0, 8)], [24, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(decodeDmaUnmap(unmap), { flags: 0, iova: 0x100000000n, size: 0x1000n });
});

Deno.test("IOMMU info with an IOVA range capability", () => {
  const b = encodeIommuInfo(80);
  const v = new DataView(b.buffer);
  v.setUint32(0, 80, true);
  v.setUint32(4, 3, true); // PGSIZES | CAPS
  v.setBigUint64(8, 0x40201000n, true); // 4K | 2M | 1G
  v.setUint32(16, 24, true);
  v.setUint16(24, 1, true); // IOVA_RANGE
  v.setUint16(26, 1, true);
  v.setUint32(32, 2, true);
  v.setBigUint64(40, 0n, true);
  v.setBigUint64(48, 0xfedfffffn, true);
  v.setBigUint64(56, 0xfef00000n, true);
  v.setBigUint64(64, 0xffffffffffffn, true);
  const info = decodeIommuInfo(b);
  assert.equal(info.iovaPageSizes, 0x40201000n);
  assert.deepEqual(info.iovaRanges, [
    { start: 0n, end: 0xfee00000n },
    { start: 0xfef00000n, end: 1n << 48n },
  ]);
  const plain = encodeIommuInfo();
  assert.equal(plain.length, 24);
  assert.equal(decodeIommuInfo(plain).iovaRanges, null);
});

Deno.test("string and int arguments", () => {
  assert.deepEqual([...encodeCString("0000:01:00.0")], [
    ...new TextEncoder().encode("0000:01:00.0"),
    0,
  ]);
  assert.deepEqual([...encodeInt32(0x12345678)], [0x78, 0x56, 0x34, 0x12]);
});
