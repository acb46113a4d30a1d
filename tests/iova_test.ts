import assert from "node:assert/strict";
import { FalconryError } from "../errors.ts";
import { DEFAULT_IOVA_WINDOW, intersectRanges, IovaAllocator } from "../pci/iova.ts";

const GiB = 1n << 30n;
const MiB = 1n << 20n;

Deno.test("default window is [4 GiB, 1 TiB) and allocation starts at its bottom", () => {
  assert.deepEqual(DEFAULT_IOVA_WINDOW, { start: 4n * GiB, end: 1024n * GiB });
  const iova = new IovaAllocator();
  assert.equal(iova.alloc(1), 4n * GiB);
  assert.equal(iova.alloc(4096), 4n * GiB + 4096n);
});

Deno.test("sizes round up to pages; alignment is honoured and leaves reusable holes", () => {
  const iova = new IovaAllocator({ ranges: [{ start: 0x10000n, end: 0x1000000n }] });
  const a = iova.alloc(100); // one page
  assert.equal(a, 0x10000n);
  const b = iova.alloc(2n * MiB, 2n * MiB);
  assert.equal(b, 0x200000n);
  const c = iova.alloc(4096, 1); // alignment below a page means a page
  assert.equal(c, 0x11000n, "the hole below the aligned block is used");
  assert.deepEqual(iova.freeRanges, [
    { start: 0x12000n, end: 0x200000n },
    { start: 0x400000n, end: 0x1000000n },
  ]);
});

Deno.test("freed ranges merge with both neighbours and are reused", () => {
  const iova = new IovaAllocator({ ranges: [{ start: 0n, end: 0x10000n }] });
  const [a, b, c] = [iova.alloc(4096), iova.alloc(4096), iova.alloc(4096)];
  assert.deepEqual([a, b, c], [0n, 0x1000n, 0x2000n]);
  assert.equal(iova.free(a), 4096n);
  assert.equal(iova.free(c), 4096n);
  assert.deepEqual(iova.freeRanges, [{ start: 0n, end: 0x1000n }, {
    start: 0x2000n,
    end: 0x10000n,
  }]);
  iova.free(b);
  assert.deepEqual(iova.freeRanges, [{ start: 0n, end: 0x10000n }]);
  assert.equal(iova.alloc(0x10000), 0n, "everything merged back into one range");
});

Deno.test("exhaustion is a FalconryError; bad requests and double frees are RangeErrors", () => {
  const iova = new IovaAllocator({ ranges: [{ start: 0n, end: 0x4000n }] });
  const a = iova.alloc(0x4000);
  assert.throws(() => iova.alloc(1), FalconryError);
  assert.throws(() => iova.alloc(0), RangeError);
  assert.throws(() => iova.alloc(4096, 3), RangeError);
  iova.free(a);
  assert.throws(() => iova.free(a), /is not allocated/);
  assert.throws(() => iova.free(0x123n), RangeError);
  assert.throws(() => new IovaAllocator({ pageSize: 3000 }), RangeError);
});

Deno.test("several usable ranges: the first that fits wins", () => {
  const iova = new IovaAllocator({
    ranges: [{ start: 0x1000n, end: 0x3000n }, { start: 0x100000n, end: 0x200000n }],
  });
  assert.equal(iova.alloc(0x4000), 0x100000n, "too big for the first range");
  assert.equal(iova.alloc(0x1000), 0x1000n);
});

Deno.test("ranges are trimmed to whole pages", () => {
  const iova = new IovaAllocator({ ranges: [{ start: 0x1001n, end: 0x5fffn }] });
  assert.deepEqual(iova.freeRanges, [{ start: 0x2000n, end: 0x5000n }]);
});

Deno.test("intersectRanges clips the window to what the IOMMU accepts", () => {
  // x86: everything but the MSI window 0xfee00000–0xfeefffff, up to 48 bits
  const valid = [{ start: 0n, end: 0xfee00000n }, { start: 0xfef00000n, end: 1n << 48n }];
  assert.deepEqual(intersectRanges(valid, [DEFAULT_IOVA_WINDOW]), [DEFAULT_IOVA_WINDOW]);
  assert.deepEqual(intersectRanges(valid, [{ start: 0xfe000000n, end: 0x100000000n }]), [
    { start: 0xfe000000n, end: 0xfee00000n },
    { start: 0xfef00000n, end: 0x100000000n },
  ]);
  assert.deepEqual(intersectRanges([{ start: 0n, end: 1n << 39n }], [DEFAULT_IOVA_WINDOW]), [
    { start: 4n * GiB, end: 1n << 39n },
  ]);
  assert.deepEqual(intersectRanges([{ start: 0n, end: GiB }], [DEFAULT_IOVA_WINDOW]), []);
});

Deno.test("many allocations and frees in random order keep the space consistent", () => {
  const iova = new IovaAllocator({ ranges: [{ start: 0n, end: 0x400000n }] });
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const live = new Map<bigint, bigint>();
  for (let i = 0; i < 2000; i++) {
    if (live.size > 0 && random() < 0.45) {
      const keys = [...live.keys()];
      const key = keys[Math.floor(random() * keys.length)];
      assert.equal(iova.free(key), live.get(key));
      live.delete(key);
      continue;
    }
    const size = BigInt(1 + Math.floor(random() * 8)) * 4096n;
    const align = 1n << BigInt(12 + Math.floor(random() * 4));
    let at: bigint;
    try {
      at = iova.alloc(size, align);
    } catch (e) {
      assert.ok(e instanceof FalconryError);
      continue;
    }
    assert.equal(at % align, 0n);
    for (const [s, n] of live) assert.ok(at + size <= s || s + n <= at, "no overlap");
    live.set(at, size);
  }
  for (const key of live.keys()) iova.free(key);
  assert.deepEqual(iova.freeRanges, [{ start: 0n, end: 0x400000n }]);
});
