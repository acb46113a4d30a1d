import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DeviceError } from "../errors.ts";
import { FileConfigSpace } from "../pci/config_space.ts";
import { O_RDONLY, O_RDWR, openFile } from "../pci/libc.ts";

function configFile(size = 256): string {
  const path = Deno.makeTempFileSync();
  const bytes = new Uint8Array(size);
  const v = new DataView(bytes.buffer);
  v.setUint16(0, 0x10de, true);
  v.setUint16(2, 0x2204, true);
  v.setUint16(4, 0x0002, true);
  v.setUint32(8, 0x030000a1, true);
  Deno.writeFileSync(path, bytes);
  return path;
}

/** The 256-byte config space in `path`, opened read-only through `fd`. */
function readOnlyConfig(fd: number, path: string): FileConfigSpace {
  return new FileConfigSpace(fd, { size: 256, bdf: "0000:02:00.0", path, readOnly: true });
}

Deno.test("reads of every width, little-endian", () => {
  const path = configFile();
  using file = openFile(path, O_RDONLY);
  using config = readOnlyConfig(file.fd, path);
  assert.equal(config.read32(0), 0x220410de);
  assert.equal(config.read16(2), 0x2204);
  assert.equal(config.read8(0), 0xde);
  assert.equal(config.read8(8), 0xa1, "revision");
  assert.equal(config.read32(8) >>> 8, 0x030000, "class code");
});

Deno.test("writes land at the right offsets, base offset included", () => {
  const path = configFile(0x2000);
  {
    using file = openFile(path, O_RDWR);
    // config space at 0x1000 within the file, as a VFIO region would be
    const config = new FileConfigSpace(file.fd, { size: 256, base: 0x1000, bdf: "x", path });
    config.write16(0x04, 0x0006);
    config.write8(0x0c, 0x10);
    config.write32(0x10, 0xffffffff);
    config.write32(0x14, -2);
    assert.equal(config.read16(0x04), 0x0006);
    assert.equal(config.read32(0x14), 0xfffffffe);
  }
  const v = new DataView(Deno.readFileSync(path).buffer);
  assert.equal(v.getUint16(0x1004, true), 0x0006);
  assert.equal(v.getUint8(0x100c), 0x10);
  assert.equal(v.getUint32(0x1010, true), 0xffffffff);
  assert.equal(v.getUint16(0x0004, true), 0x0002, "the area before the base is untouched");
});

Deno.test("misaligned, out-of-range and oversized accesses are RangeErrors", () => {
  const path = configFile();
  using file = openFile(path, O_RDWR);
  const config = new FileConfigSpace(file.fd, { size: 256, bdf: "0000:02:00.0", path });
  for (const [offset, width] of [[1, 2], [2, 4], [256, 1], [254, 4], [-1, 1], [0.5, 1]] as const) {
    const read = width === 1 ? config.read8 : width === 2 ? config.read16 : config.read32;
    assert.throws(() => read.call(config, offset), RangeError, `${width}@${offset}`);
  }
  assert.throws(() => config.write8(0, 0x100), RangeError);
  assert.throws(() => config.write16(0, 0x10000), RangeError);
  assert.throws(() => config.write32(0, 2 ** 32), RangeError);
  config[Symbol.dispose]();
  assert.throws(() => config.read8(0), /closed/);
});

Deno.test("read-only refuses writes and leaves the file unchanged", () => {
  const path = configFile();
  const before = createHash("sha256").update(Deno.readFileSync(path)).digest("hex");
  using file = openFile(path, O_RDONLY);
  const config = readOnlyConfig(file.fd, path);
  assert.throws(
    () => config.write16(4, 0x0006),
    (e: unknown) =>
      e instanceof DeviceError && e.message.includes("refused a config space write at 0x4"),
  );
  assert.equal(createHash("sha256").update(Deno.readFileSync(path)).digest("hex"), before);
});

Deno.test("a short read (sysfs for non-root stops at 64 bytes) is a DeviceError with the fix", () => {
  const path = configFile(64);
  using file = openFile(path, O_RDONLY);
  const config = readOnlyConfig(file.fd, path);
  assert.equal(config.read32(0x3c), 0);
  assert.throws(
    () => config.read32(0x40),
    (e: unknown) =>
      e instanceof DeviceError && e.message.includes("returned 0 of 4 bytes") &&
      e.message.includes("needs root or CAP_SYS_ADMIN"),
  );
});
