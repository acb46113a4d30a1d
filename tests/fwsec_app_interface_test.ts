import assert from "node:assert/strict";
import { forgeFwsecDmem } from "../firmware/forge/vbios.ts";
import {
  APP_INTERFACE_ID_DMEM_MAPPER,
  DMEM_MAPPER_INIT_CMD_OFFSET,
  DMEM_MAPPER_SIGNATURE,
  findDmemMapper,
  parseAppInterface,
  parseDmemMapper,
} from "../firmware/fwsec/app_interface.ts";
import { realVbiosTest } from "./_real.ts";
import { throwsFormat, view } from "./_assert.ts";

Deno.test("app interface: constants", () => {
  assert.equal(APP_INTERFACE_ID_DMEM_MAPPER, 4);
  assert.equal(DMEM_MAPPER_INIT_CMD_OFFSET, 0x2c);
  assert.equal(
    DMEM_MAPPER_SIGNATURE,
    view(new TextEncoder().encode("DMAP")).getUint32(0, true),
  );
});

Deno.test("app interface: the forged table and mapper", () => {
  const forged = forgeFwsecDmem({ cmdInBufferSize: 0x30 });
  const table = parseAppInterface(forged.dmem, forged.interfaceOffset);
  assert.deepEqual(table, {
    dmemOffset: 0x40,
    version: 1,
    headerSize: 4,
    entrySize: 8,
    entryCount: 2,
    entries: [{ id: 5, dmemBase: 0x80 }, { id: 4, dmemBase: 0x100 }],
  });
  const mapper = findDmemMapper(forged.dmem, table);
  assert.ok(mapper);
  assert.equal(mapper.dmemOffset, forged.mapperOffset);
  assert.equal(mapper.signature, DMEM_MAPPER_SIGNATURE);
  assert.equal(mapper.version, 3);
  assert.equal(mapper.size, 64);
  assert.equal(mapper.cmdInBufferOffset, forged.cmdInBufferOffset);
  assert.equal(mapper.cmdInBufferSize, 0x30);
  assert.equal(mapper.initCmd, 0);
  assert.deepEqual(parseDmemMapper(forged.dmem, forged.mapperOffset), mapper);
});

Deno.test("app interface: no id 4 means no mapper", () => {
  const forged = forgeFwsecDmem({ dmemMapper: false });
  const table = parseAppInterface(forged.dmem, forged.interfaceOffset);
  assert.deepEqual(table.entries.map((e) => e.id), [5, 6]);
  assert.equal(findDmemMapper(forged.dmem, table), null);
});

Deno.test("app interface: entry size and header size come from the table", () => {
  const { dmem, interfaceOffset, mapperOffset } = forgeFwsecDmem();
  const at = interfaceOffset;
  dmem.set([1, 6, 12, 1], at);
  view(dmem).setUint32(at + 6, 4, true);
  view(dmem).setUint32(at + 10, mapperOffset, true);
  const table = parseAppInterface(dmem, at);
  assert.deepEqual(table.entries, [{ id: 4, dmemBase: mapperOffset }]);
  assert.equal(findDmemMapper(dmem, table)?.dmemOffset, mapperOffset);
});

Deno.test("app interface: malformed tables are errors with DMEM file offsets", () => {
  const base = { base: 0x10000 };
  const cases: [number, number, string][] = [
    [0, 2, "appInterface.version"],
    [1, 3, "appInterface.headerSize"],
    [2, 7, "appInterface.entrySize"],
  ];
  for (const [byte, value, field] of cases) {
    const { dmem, interfaceOffset } = forgeFwsecDmem();
    dmem[interfaceOffset + byte] = value;
    throwsFormat(
      () => parseAppInterface(dmem, interfaceOffset, base),
      field,
      0x10000 + interfaceOffset + byte,
    );
  }
  const { dmem, interfaceOffset } = forgeFwsecDmem();
  dmem[interfaceOffset + 3] = 255;
  throwsFormat(() => parseAppInterface(dmem, interfaceOffset), "appInterface.entries");
  throwsFormat(() => parseAppInterface(dmem, dmem.length - 2), "appInterface.header");
  throwsFormat(() => parseAppInterface(dmem, 0xffffffff), "appInterface.header");
});

Deno.test("app interface: a mapper that runs past DMEM is an error", () => {
  const { dmem, interfaceOffset } = forgeFwsecDmem();
  view(dmem).setUint32(interfaceOffset + 16, dmem.length - 32, true);
  const table = parseAppInterface(dmem, interfaceOffset);
  throwsFormat(() => findDmemMapper(dmem, table), "dmemMapper", dmem.length - 32);
});

realVbiosTest("app interface: the real TU102 FWSEC DMEM", (bytes) => {
  // DMEM = ucode (file 0x67660) + imemLoadSize 0x9600, 0x410 bytes.
  const dmemAt = 0x67660 + 0x9600;
  const dmem = bytes.subarray(dmemAt, dmemAt + 0x410);
  const options = { file: "TU102.rom", base: dmemAt };
  const table = parseAppInterface(dmem, 0xdc, options);
  assert.deepEqual(table, {
    dmemOffset: 0xdc,
    version: 1,
    headerSize: 4,
    entrySize: 8,
    entryCount: 2,
    entries: [{ id: 4, dmemBase: 0x380 }, { id: 5, dmemBase: 0x364 }],
  });
  assert.deepEqual(findDmemMapper(dmem, table, options), {
    dmemOffset: 0x380,
    signature: DMEM_MAPPER_SIGNATURE,
    version: 3,
    size: 0x40,
    cmdInBufferOffset: 0x3d0,
    cmdInBufferSize: 0x40,
    cmdOutBufferOffset: 0x1000000,
    cmdOutBufferSize: 0x100,
    nvfImgDataBufferOffset: 0x1e40,
    nvfImgDataBufferSize: 0x2600,
    printfBufferHdr: 0,
    ucodeBuildTimeStamp: 0x118,
    ucodeSignature: 0x120,
    initCmd: 0,
    ucodeFeature: 0x14,
    ucodeCmdMask0: 0x44000,
    ucodeCmdMask1: 0,
    multiTgtTbl: 0x364,
  });
});
