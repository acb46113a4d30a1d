import assert from "node:assert/strict";
import { bufferSource, countingSource } from "../firmware/byte_source.ts";
import { forgeVbios } from "../firmware/forge/vbios.ts";
import {
  IFR_SIGNATURE,
  locateRom,
  ROM_DIRECTORY_DISTANCE,
  ROM_DIRECTORY_SIGNATURE,
} from "../firmware/vbios/ifr.ts";
import { realVbiosTest } from "./_real.ts";
import { assertFormatError, throwsFormat, view } from "./_assert.ts";
import { parseVbios } from "../firmware/vbios/vbios.ts";

Deno.test("ifr: constants spell NVGI and RFRD", () => {
  assert.equal(IFR_SIGNATURE, view(new TextEncoder().encode("NVGI")).getUint32(0, true));
  assert.equal(ROM_DIRECTORY_SIGNATURE, view(new TextEncoder().encode("RFRD")).getUint32(0, true));
  assert.equal(ROM_DIRECTORY_DISTANCE, 4096);
});

Deno.test("ifr: a plain ROM (55 AA at 0) has no IFR and starts at 0", () => {
  const src = countingSource(bufferSource(forgeVbios({ ifr: "none" }).bytes));
  assert.deepEqual(locateRom(src), { ifr: null, romOffset: 0 });
  assert.equal(src.bytesRead, 12);
});

Deno.test("ifr: no NVGI and no ROM signature means images at 0 (the walk then decides)", () => {
  const bytes = new Uint8Array(64).fill(0x11);
  assert.deepEqual(locateRom(bufferSource(bytes)), { ifr: null, romOffset: 0 });
  assert.deepEqual(locateRom(bufferSource(new Uint8Array([0x55, 0xaa]))), {
    ifr: null,
    romOffset: 0,
  });
});

for (const version of [1, 2] as const) {
  Deno.test(`ifr: version ${version} keeps the ROM offset at fixedDataSize + 4`, () => {
    const { bytes, layout } = forgeVbios({ ifr: version });
    const src = countingSource(bufferSource(bytes));
    const rom = locateRom(src);
    assert.deepEqual(rom, {
      ifr: { version, fixedDataSize: 0x24, totalDataSize: 0x32c, romOffset: 0x800 },
      romOffset: 0x800,
    });
    assert.equal(rom.romOffset, layout.romOffset);
    assert.equal(src.bytesRead, 12 + 4);
  });
}

Deno.test("ifr: version 3 goes through the flash status offset and the RFRD directory", () => {
  const { bytes, layout } = forgeVbios({ ifr: 3 });
  const src = countingSource(bufferSource(bytes));
  const rom = locateRom(src);
  assert.deepEqual(rom.ifr, {
    version: 3,
    fixedDataSize: 0x24,
    totalDataSize: 0x32c,
    flashStatusOffset: 0x1000,
    romDirectoryOffset: 0x2000,
    romOffset: 0x3000,
  });
  assert.equal(rom.romOffset, layout.romOffset);
  assert.equal(src.bytesRead, 12 + 4 + 12);
});

Deno.test("ifr: unknown version is an error naming ifr.version", () => {
  const { bytes } = forgeVbios({ ifr: 2 });
  bytes[5] = 4;
  throwsFormat(() => locateRom(bufferSource(bytes)), "ifr.version", 4);
});

Deno.test("ifr: version 3 without RFRD 4 KiB after the flash status offset is an error", () => {
  const { bytes } = forgeVbios({ ifr: 3 });
  bytes[0x2000] = 0x58;
  throwsFormat(() => locateRom(bufferSource(bytes)), "ifr.romDirectory.signature", 0x2000);
});

Deno.test("ifr: flash status offset outside the source is an error, not a wild read", () => {
  const { bytes } = forgeVbios({ ifr: 3 });
  view(bytes).setUint32(0x32c, 0xfffff000, true);
  throwsFormat(() => locateRom(bufferSource(bytes)), "ifr.romDirectory", 0xfffff000 + 4096);
});

Deno.test("ifr: a ROM offset outside the source or unaligned is an error", () => {
  const { bytes } = forgeVbios({ ifr: 1 });
  view(bytes).setUint32(0x28, bytes.length, true);
  const past = assertFormatError(() => locateRom(bufferSource(bytes)), "ifr.romOffset", 0x28);
  assert.match(past.reason, new RegExp(`past the end of the ${bytes.length}-byte .*cut short`));
  assert.doesNotMatch(past.reason, /aligned/);
  view(bytes).setUint32(0x28, 0x802, true);
  const odd = assertFormatError(() => locateRom(bufferSource(bytes)), "ifr.romOffset", 0x28);
  assert.equal(odd.reason, "ROM offset 0x802 is not 4-byte aligned");
  const v3 = forgeVbios({ ifr: 3 }).bytes;
  view(v3).setUint32(0x2008, 0xffffff00, true);
  throwsFormat(() => locateRom(bufferSource(v3)), "ifr.romOffset", 0x2008);
});

Deno.test("ifr: truncated IFR headers give format errors", () => {
  const { bytes } = forgeVbios({ ifr: 3 });
  throwsFormat(() => locateRom(bufferSource(bytes.subarray(0, 0x100))), "ifr.flashStatusOffset");
  throwsFormat(() => locateRom(bufferSource(bytes.subarray(0, 0x2004))), "ifr.romDirectory");
  throwsFormat(() => locateRom(bufferSource(new Uint8Array(0))), "ifr.signature", 0);
  throwsFormat(() => locateRom(bufferSource(new Uint8Array(1))), "ifr.signature", 0);
  const v1 = forgeVbios({ ifr: 1 }).bytes;
  throwsFormat(() => locateRom(bufferSource(v1.subarray(0, 0x20))), "ifr.romOffset", 0x28);
});

realVbiosTest("ifr: the real TU102 dump is IFR v3 with its images at 0x28600", (bytes) => {
  const src = countingSource(bufferSource(bytes, "TU102.rom"));
  const rom = locateRom(src);
  assert.deepEqual(rom.ifr, {
    version: 3,
    fixedDataSize: 36,
    totalDataSize: 0x32c,
    flashStatusOffset: 0x3000,
    romDirectoryOffset: 0x4000,
    romOffset: 0x28600,
  });
  assert.equal(rom.romOffset, 0x28600);
  assert.equal(src.bytesRead, 28);
  // The file holds a second copy of the flash (IFR and images) 0x79000 further on.
  const second = locateRom(bufferSource(bytes.subarray(0x79000)));
  assert.equal(second.romOffset + 0x79000, 0xa1600);
});

realVbiosTest(
  "ifr: the real TU102 dump cut to 100 kB says the ROM is past its end",
  async (bytes) => {
    const dir = await Deno.makeTempDir({ prefix: "falconry-ifr-" });
    try {
      const path = `${dir}/cut.rom`;
      await Deno.writeFile(path, bytes.subarray(0, 100 * 1024));
      const cut = await Deno.readFile(path);
      for (
        const parse of [
          () => locateRom(bufferSource(cut, path)),
          () => parseVbios(bufferSource(cut, path)),
        ]
      ) {
        const e = assertFormatError(parse, "ifr.romOffset", 0x4008);
        assert.equal(e.file, path);
        assert.equal(
          e.reason,
          "ROM offset 0x28600 is past the end of the 102400-byte (0x19000) source: " +
            "the file is cut short, or the IFR header is wrong",
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
