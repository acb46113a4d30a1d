import assert from "node:assert/strict";
import { OsError } from "../errors.ts";
import * as libc from "../pci/libc.ts";
import { openFilesUnder } from "./_proc.ts";

Deno.test("open, pwrite, pread, ftruncate, close round trip", () => {
  const path = Deno.makeTempFileSync();
  const fd = libc.open(path, libc.O_RDWR);
  try {
    assert.equal(libc.pwrite(fd, new TextEncoder().encode("falconry"), 4, path), 8);
    const buf = new Uint8Array(12);
    assert.equal(libc.pread(fd, buf, 0, path), 12);
    assert.deepEqual([...buf.subarray(0, 4)], [0, 0, 0, 0]);
    assert.equal(new TextDecoder().decode(buf.subarray(4)), "falconry");
    assert.equal(libc.pread(fd, new Uint8Array(100), 8, path), 4, "short read at end of file");
    assert.equal(libc.pread(fd, new Uint8Array(4), 1000, path), 0);
    libc.ftruncate(fd, 6, path);
    assert.equal(Deno.statSync(path).size, 6);
  } finally {
    libc.close(fd, path);
  }
  assert.equal(Deno.readTextFileSync(path), "\0\0\0\0fa");
});

Deno.test("descriptors are close-on-exec", () => {
  using file = libc.openFile("/dev/null", libc.O_RDONLY);
  const flags =
    Deno.readTextFileSync(`/proc/self/fdinfo/${file.fd}`).match(/flags:\s+([0-7]+)/)![1];
  assert.equal(parseInt(flags, 8) & libc.O_CLOEXEC, libc.O_CLOEXEC);
});

Deno.test("FileDescriptor closes once at the end of its scope", () => {
  const path = Deno.makeTempFileSync({ prefix: "falconry-fd-" });
  {
    using file = libc.openFile(path, libc.O_RDONLY);
    assert.ok(file.fd >= 0);
    assert.deepEqual(openFilesUnder(path), [path]);
  }
  assert.deepEqual(openFilesUnder(path), []);
  const file = libc.openFile(path, libc.O_RDONLY);
  file[Symbol.dispose]();
  file[Symbol.dispose]();
  assert.equal(file.fd, -1);
  assert.deepEqual(openFilesUnder(path), []);
});

Deno.test("mmap shares file pages; munmap releases them", () => {
  const path = Deno.makeTempFileSync();
  Deno.truncateSync(path, 8192);
  using file = libc.openFile(path, libc.O_RDWR);
  const ptr = libc.mmap(8192, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, file.fd, 4096, {
    path,
  });
  const words = new Uint32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, 4096));
  words[1] = 0x12345678;
  libc.munmap(ptr, 8192);
  const bytes = Deno.readFileSync(path);
  assert.equal(new DataView(bytes.buffer).getUint32(4096 + 4, true), 0x12345678);
});

Deno.test("mmap of a missing fd names the call and errno", () => {
  assert.throws(
    () => libc.mmap(4096, libc.PROT_READ, libc.MAP_SHARED, 987654, 0, { path: "resource0" }),
    (e: unknown) =>
      e instanceof OsError && e.call === "mmap" && e.errnoName === "EBADF" &&
      e.path === "resource0",
  );
});

Deno.test("ioctl passes buffers by address and integers by value", () => {
  using null_ = libc.openFile("/dev/null", libc.O_RDONLY);
  for (const argument of [new Uint8Array(8), 3, 3n]) {
    assert.throws(
      () => libc.ioctl(null_.fd, 0x3b65, argument, "VFIO_CHECK_EXTENSION", { path: "/dev/null" }),
      (e: unknown) =>
        e instanceof OsError && e.errnoName === "ENOTTY" &&
        e.call === "ioctl(VFIO_CHECK_EXTENSION)",
    );
  }
  // FIONREAD on a pipe-like file is a real ioctl that fills an int by address.
  using zero = libc.openFile(Deno.makeTempFileSync(), libc.O_RDWR);
  const count = new Uint8Array(4).fill(0xff);
  assert.equal(libc.ioctl(zero.fd, 0x541b, count, "FIONREAD"), 0);
  assert.deepEqual([...count], [0, 0, 0, 0]);
  // FIONCLEX / FIOCLEX take no argument: the by-value path, observed through fdinfo.
  const cloexec = () =>
    parseInt(
      Deno.readTextFileSync(`/proc/self/fdinfo/${zero.fd}`).match(/flags:\s+([0-7]+)/)![1],
      8,
    ) &
    libc.O_CLOEXEC;
  assert.equal(libc.ioctl(zero.fd, 0x5450, 0, "FIONCLEX"), 0);
  assert.equal(cloexec(), 0);
  assert.equal(libc.ioctl(zero.fd, 0x5451, 0n, "FIOCLEX"), 0);
  assert.equal(cloexec(), libc.O_CLOEXEC);
});

Deno.test("flock is exclusive between open file descriptions", () => {
  const path = Deno.makeTempFileSync();
  using a = libc.openFile(path, libc.O_RDWR);
  using b = libc.openFile(path, libc.O_RDWR);
  libc.flock(a.fd, libc.LOCK_EX | libc.LOCK_NB, { path });
  assert.throws(
    () => libc.flock(b.fd, libc.LOCK_EX | libc.LOCK_NB, { path }),
    (e: unknown) => e instanceof OsError && e.errnoName === "EAGAIN" && e.errno === 11,
  );
  libc.flock(a.fd, libc.LOCK_UN, { path });
  libc.flock(b.fd, libc.LOCK_EX | libc.LOCK_NB, { path });
});

Deno.test("anonymous memory: mlock, madvise, munlock", () => {
  const length = 3 * libc.pageSize();
  const ptr = libc.mmap(
    length,
    libc.PROT_READ | libc.PROT_WRITE,
    libc.MAP_PRIVATE | libc.MAP_ANONYMOUS,
    -1,
    0,
  );
  try {
    libc.madvise(ptr, length, libc.MADV_DONTFORK);
    libc.mlock(ptr, length);
    const bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, length));
    assert.ok(bytes.every((b) => b === 0), "anonymous memory is zeroed");
    libc.munlock(ptr, length);
  } finally {
    libc.munmap(ptr, length);
  }
});

Deno.test("pageSize is a power of two of at least 4 KiB", () => {
  const page = libc.pageSize();
  assert.ok(page >= 4096 && (page & (page - 1)) === 0);
});

Deno.test("a NUL in a path is refused before the call", () => {
  assert.throws(() => libc.open("/tmp/a\0b", libc.O_RDONLY), TypeError);
});

Deno.test("errno reflects the last failed call", () => {
  assert.throws(() => libc.open("/nonexistent/x", libc.O_RDONLY));
  assert.equal(libc.errno(), 2);
});
