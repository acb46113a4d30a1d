import assert from "node:assert/strict";
import { OsError } from "../errors.ts";
import { ERRNO_MAX, errnoName, errnoNumber } from "../pci/errno.ts";
import * as libc from "../pci/libc.ts";

Deno.test("errno names match glibc's strerrorname_np for every value", () => {
  const glibc = Deno.dlopen("libc.so.6", {
    strerrorname_np: { parameters: ["i32"], result: "pointer" },
  });
  try {
    let compared = 0;
    for (let n = 1; n <= ERRNO_MAX; n++) {
      const pointer = glibc.symbols.strerrorname_np(n);
      if (pointer === null) {
        assert.equal(errnoName(n), `E${n}`, `errno ${n} has no name in glibc`);
        continue;
      }
      assert.equal(errnoName(n), Deno.UnsafePointerView.getCString(pointer), `errno ${n}`);
      compared++;
    }
    assert.ok(compared >= 131, `compared ${compared} names`);
  } finally {
    glibc.close();
  }
});

Deno.test("errno table: fixed values, aliases and unknown numbers", () => {
  assert.equal(ERRNO_MAX, 133);
  assert.deepEqual(
    [1, 2, 11, 12, 13, 16, 19, 22, 25, 95, 110].map(errnoName),
    [
      "EPERM",
      "ENOENT",
      "EAGAIN",
      "ENOMEM",
      "EACCES",
      "EBUSY",
      "ENODEV",
      "EINVAL",
      "ENOTTY",
      "EOPNOTSUPP",
      "ETIMEDOUT",
    ],
  );
  assert.equal(errnoNumber("EWOULDBLOCK"), 11);
  assert.equal(errnoNumber("EDEADLOCK"), 35);
  assert.equal(errnoNumber("EHWPOISON"), 133);
  assert.equal(errnoNumber("ENOPE"), undefined);
  assert.equal(errnoName(41), "E41");
  assert.equal(errnoName(0), "E0");
  assert.equal(errnoName(500), "E500");
});

function osError(fn: () => unknown): OsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof OsError) return e;
    throw e;
  }
  assert.fail("expected an OsError");
}

Deno.test("a missing path gives ENOENT naming the call and the path", () => {
  const e = osError(() => libc.open("/nonexistent/falconry/x", libc.O_RDONLY));
  assert.equal(e.call, "open");
  assert.equal(e.errno, 2);
  assert.equal(e.errnoName, "ENOENT");
  assert.equal(e.path, "/nonexistent/falconry/x");
  assert.equal(e.message, "open /nonexistent/falconry/x failed: ENOENT (errno 2)");
});

Deno.test("a hint for the errno is appended", () => {
  const e = osError(() =>
    libc.open("/nonexistent/vfio/vfio", libc.O_RDWR, 0, { ENOENT: "load VFIO: modprobe vfio-pci" })
  );
  assert.match(e.message, /ENOENT \(errno 2\); load VFIO: modprobe vfio-pci$/);
  const other = osError(() =>
    libc.open("/nonexistent/x", libc.O_RDWR, 0, { EACCES: "needs root" })
  );
  assert.ok(!other.message.includes("needs root"), "hints for other errnos are not shown");
});

Deno.test("EACCES: writing a read-only file", () => {
  let path: string;
  if (Deno.uid() === 0) {
    // root passes permission bits, but sysfs refuses write opens of read-only attributes.
    path = "/sys/kernel/notes";
    try {
      Deno.statSync(path);
    } catch {
      return; // no sysfs here
    }
  } else {
    path = Deno.makeTempFileSync();
    Deno.chmodSync(path, 0o400);
  }
  const e = osError(() =>
    libc.open(path, libc.O_WRONLY, 0, { EACCES: "needs root or CAP_SYS_ADMIN" })
  );
  assert.equal(e.errnoName, "EACCES");
  assert.equal(e.errno, 13);
  assert.match(
    e.message,
    new RegExp(`^open ${path} failed: EACCES \\(errno 13\\); needs root or CAP_SYS_ADMIN$`),
  );
});

Deno.test("other errnos: EISDIR, ENOTTY, EBADF, EINVAL", () => {
  const dir = Deno.makeTempDirSync();
  assert.equal(osError(() => libc.open(dir, libc.O_WRONLY)).errnoName, "EISDIR");
  using file = libc.openFile(Deno.makeTempFileSync(), libc.O_RDWR);
  const notty = osError(() =>
    libc.ioctl(file.fd, 0x3b64, 0, "VFIO_GET_API_VERSION", { path: file.path })
  );
  assert.equal(notty.errnoName, "ENOTTY");
  assert.equal(notty.call, "ioctl(VFIO_GET_API_VERSION)");
  assert.equal(osError(() => libc.close(-1)).errnoName, "EBADF");
  const inval = osError(() =>
    libc.mmap(0, libc.PROT_READ, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS, -1, 0)
  ); // zero length
  assert.equal(inval.errnoName, "EINVAL");
  assert.equal(inval.call, "mmap");
});
