import assert from "node:assert/strict";
import { DeviceError, FalconryError, OsError } from "../errors.ts";
import { IovaAllocator } from "../pci/iova.ts";
import { O_RDWR, openFile, pageSize } from "../pci/libc.ts";
import { HUGE_PAGE_SIZE } from "../pci/mapping.ts";
import { type DmaMapper, IommuDmaAllocator, vfioDmaMapper } from "../pci/vfio_dma.ts";
import { lockedKiBAt } from "./_proc.ts";

/** The `VmFlags:` of the mapping containing `address` (`dc`: not copied on fork), or null. */
function vmFlagsAt(address: bigint): string[] | null {
  let inside = false;
  for (const line of Deno.readTextFileSync("/proc/self/smaps").split("\n")) {
    const range = line.match(/^([0-9a-f]+)-([0-9a-f]+) /);
    if (range) {
      inside = BigInt(`0x${range[1]}`) <= address && address < BigInt(`0x${range[2]}`);
      continue;
    }
    const flags = inside && line.match(/^VmFlags:\s*(.*)$/);
    if (flags) return flags[1].trim().split(/\s+/);
  }
  return null;
}

interface Call {
  op: "map" | "unmap";
  vaddr?: bigint;
  iova: bigint;
  size: bigint;
}

function recorder(
  options: { failMap?: boolean; failUnmap?: boolean } = {},
): DmaMapper & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    map(vaddr, iova, size) {
      calls.push({ op: "map", vaddr, iova, size });
      if (options.failMap) throw new FalconryError("map refused");
    },
    unmap(iova, size) {
      calls.push({ op: "unmap", iova, size });
      if (options.failUnmap) throw new FalconryError(`unmap of 0x${iova.toString(16)} refused`);
    },
  };
}

Deno.test("alloc maps zeroed memory at an aligned IOVA; dispose undoes it", () => {
  const mapper = recorder();
  using dma = new IommuDmaAllocator(mapper, new IovaAllocator(), { name: "0000:02:00.0" });
  let vaddr = 0n;
  {
    using buffer = dma.alloc(10_000, { align: 0x10000 });
    const page = pageSize();
    assert.equal(buffer.size, Math.ceil(10_000 / page) * page);
    assert.equal(buffer.bytes.length, buffer.size);
    assert.ok(buffer.bytes.every((b) => b === 0));
    assert.equal(buffer.iova, 1n << 32n);
    assert.equal(buffer.iova % 0x10000n, 0n);
    assert.equal(mapper.calls.length, 1);
    const [call] = mapper.calls;
    assert.equal(call.op, "map");
    assert.equal(call.iova, buffer.iova);
    assert.equal(call.size, BigInt(buffer.size));
    // the vaddr given to the IOMMU is the memory behind `bytes`
    buffer.bytes[5] = 0x5a;
    const seen = new Uint8Array(
      Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(call.vaddr!)!, 8),
    );
    assert.equal(seen[5], 0x5a);
    vaddr = call.vaddr!;
    // Kept out of forked children, and not mlocked: VFIO_IOMMU_MAP_DMA pins the pages and
    // charges RLIMIT_MEMLOCK itself, so an mlock would charge them twice.
    assert.ok(vmFlagsAt(vaddr)?.includes("dc"), "MADV_DONTFORK is set");
    assert.equal(lockedKiBAt(vaddr), 0, "not mlocked");
    assert.ok(!vmFlagsAt(vaddr)?.includes("lo"), "no VM_LOCKED");
    assert.equal(dma.live, 1);
  }
  assert.deepEqual(mapper.calls.map((c) => c.op), ["map", "unmap"]);
  assert.equal(mapper.calls[1].iova, 1n << 32n);
  assert.equal(dma.live, 0);
  // Other test modules share this process and may map memory at the same
  // address once it is free, but not with MADV_DONTFORK: ours is gone.
  assert.ok(!vmFlagsAt(vaddr)?.includes("dc"), "unmapped (no DMA memory is left at the address)");
  using again = dma.alloc(1);
  assert.equal(again.iova, 1n << 32n, "the IOVA is reused");
});

Deno.test("2 MiB buffers get 2 MiB-aligned IOVAs when backed by huge pages", () => {
  using dma = new IommuDmaAllocator(recorder(), new IovaAllocator(), { name: "t" });
  using small = dma.alloc(4096);
  using big = dma.alloc(HUGE_PAGE_SIZE);
  assert.equal(big.size, HUGE_PAGE_SIZE);
  const hugeFree = Number(
    Deno.readTextFileSync("/proc/meminfo").match(/HugePages_Free:\s+(\d+)/)![1],
  );
  if (hugeFree > 0) assert.equal(big.iova % BigInt(HUGE_PAGE_SIZE), 0n);
  assert.notEqual(small.iova, big.iova);
});

Deno.test("a failed IOMMU map releases the memory and the IOVA", () => {
  const iova = new IovaAllocator();
  const mapper = recorder({ failMap: true });
  const dma = new IommuDmaAllocator(mapper, iova, { name: "t" });
  assert.throws(() => dma.alloc(8192), /map refused/);
  assert.equal(dma.live, 0);
  assert.equal(mapper.calls.length, 1);
  assert.ok(
    !vmFlagsAt(mapper.calls[0].vaddr!)?.includes("dc"),
    "memory unmapped (no DMA memory is left at the address)",
  );
  assert.deepEqual(iova.freeRanges, new IovaAllocator().freeRanges, "IOVA space is whole again");
});

Deno.test("disposing the allocator disposes every live buffer; errors are not swallowed", () => {
  const mapper = recorder({ failUnmap: true });
  const dma = new IommuDmaAllocator(mapper, new IovaAllocator(), { name: "t" });
  const a = dma.alloc(4096);
  const b = dma.alloc(4096);
  assert.throws(
    () => dma[Symbol.dispose](),
    (e: unknown) => {
      // two failures: the second is attached to the first as a SuppressedError
      assert.ok(e instanceof SuppressedError);
      assert.match(String(e.error), /unmap of 0x.* refused/);
      assert.match(String(e.suppressed), /unmap of 0x.* refused/);
      return true;
    },
  );
  assert.equal(mapper.calls.filter((c) => c.op === "unmap").length, 2);
  assert.equal(a.bytes.length, 0, "memory released despite the unmap failure");
  assert.equal(b.bytes.length, 0);
  assert.equal(dma.live, 0);
  assert.throws(() => dma.alloc(4096), /closed/);
});

Deno.test("read-only and bad sizes are refused", () => {
  const ro = new IommuDmaAllocator(recorder(), new IovaAllocator(), {
    name: "0000:02:00.0",
    readOnly: true,
  });
  assert.throws(
    () => ro.alloc(4096),
    (e: unknown) => e instanceof DeviceError && /read-only/.test(e.message),
  );
  const dma = new IommuDmaAllocator(recorder(), new IovaAllocator(), { name: "t" });
  for (const bad of [0, -1, 1.5, NaN]) assert.throws(() => dma.alloc(bad), RangeError);
});

Deno.test("the VFIO mapper names the ioctl and explains the errno", () => {
  using file = openFile(Deno.makeTempFileSync(), O_RDWR); // not a container: ENOTTY
  const mapper = vfioDmaMapper(file.fd, "/dev/vfio/vfio");
  assert.throws(
    () => mapper.map(0x1000n, 0x100000000n, 0x1000n),
    (e: unknown) =>
      e instanceof OsError && e.call === "ioctl(VFIO_IOMMU_MAP_DMA)" && e.errnoName === "ENOTTY" &&
      e.path === "/dev/vfio/vfio",
  );
  assert.throws(() => mapper.unmap(0x100000000n, 0x1000n), /ioctl\(VFIO_IOMMU_UNMAP_DMA\)/);
});
