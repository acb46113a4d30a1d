import assert from "node:assert/strict";
import { faultingDmaView } from "../sim/dma.ts";
import { FaultInjector } from "../sim/faults.ts";
import { SimDmaFault, SystemMemory, withInPlaceReads } from "../sim/system_memory.ts";

function mapped(size = 3 * 4096): { memory: SystemMemory; bytes: Uint8Array } {
  const memory = new SystemMemory();
  const bytes = new Uint8Array(size).map((_, i) => i & 0xff);
  memory.map(0x10_0000n, bytes);
  return { memory, bytes };
}

Deno.test("system memory: a read is a copy the host's later writes do not reach", () => {
  const { memory, bytes } = mapped();
  const got = memory.read(0x10_1000n, 16);
  bytes[0x1000] ^= 0xff;
  got[1] ^= 0xff;
  assert.equal(got[0], 0x00);
  assert.equal(bytes[0x1001], 0x01);
});

Deno.test("system memory: inside withInPlaceReads a read is a view of the mapped bytes", () => {
  const { memory, bytes } = mapped();
  const [same, nested] = withInPlaceReads(() => {
    const view = memory.read(0x10_1000n, 16);
    const inner = withInPlaceReads(() => memory.read(0x10_2000n, 4));
    // Still a view after the inner scope ended: the outer one is running.
    return [view, inner, memory.read(0x10_0000n, 1)] as const;
  });
  bytes[0x1000] = 0xaa;
  bytes[0x2000] = 0xbb;
  assert.equal(same[0], 0xaa);
  assert.equal(nested[0], 0xbb);
  assert.equal(memory.read(0x10_1000n, 1).buffer === bytes.buffer, false);
  assert.equal(memory.bytesRead, 16 + 4 + 1 + 1);
});

Deno.test("system memory: in-place reads still fault outside a mapping and across two", () => {
  const memory = new SystemMemory();
  memory.map(0x1000n, new Uint8Array(4096));
  memory.map(0x2000n, new Uint8Array(4096));
  withInPlaceReads(() => {
    assert.equal(memory.read(0x1ff0n, 16).length, 16);
    assert.throws(() => memory.read(0x1ff0n, 32), SimDmaFault);
    assert.throws(() => memory.read(0x3000n, 1), SimDmaFault);
  });
});

Deno.test("system memory: a mapping disposed between reads of it faults (no stale last hit)", () => {
  const memory = new SystemMemory();
  const mapping = memory.map(0x1000n, new Uint8Array(4096));
  assert.equal(memory.read(0x1000n, 4).length, 4);
  mapping[Symbol.dispose]();
  assert.throws(() => memory.read(0x1000n, 4), SimDmaFault);
  memory.map(0x1000n, new Uint8Array(8192).fill(7));
  assert.equal(memory.read(0x1ffen, 4)[3], 7);
});

Deno.test("system memory: in-place reads go through the IOMMU view's fault points", () => {
  const { memory } = mapped();
  const faults = new FaultInjector();
  const view = faultingDmaView(memory, faults);
  faults.arm("dma-fault", { iova: 0x10_2010n });
  withInPlaceReads(() => {
    assert.equal(view.read(0x10_1000n, 4096).length, 4096);
    assert.throws(() => view.read(0x10_2000n, 4096), SimDmaFault);
  });
});

Deno.test("system memory: asynchronous work is refused by withInPlaceReads", () => {
  const { memory, bytes } = mapped();
  assert.throws(
    () => withInPlaceReads(() => Promise.resolve(memory.read(0x10_0000n, 4))),
    TypeError,
  );
  // The scope has ended: reads are copies again.
  assert.notEqual(memory.read(0x10_0000n, 4).buffer, bytes.buffer);
});
