import assert from "node:assert/strict";
import { bufferSource } from "../firmware/mod.ts";
import { forgeFwsecDmem } from "../firmware/forge/mod.ts";
import { readFwsecCommand } from "../sim/acceptance/fwsec_command.ts";
import { recogniseFwsec } from "../sim/acceptance/recognise.ts";
import { realVbiosTest } from "./_real.ts";

Deno.test("the command buffer is read from the mapper the interface table names", () => {
  const { dmem, interfaceOffset, mapperOffset, cmdInBufferOffset } = forgeFwsecDmem();
  const view = new DataView(dmem.buffer);
  view.setUint32(mapperOffset + 0x2c, 0x15, true);
  [1, 24, 0, 0, 0, 2, 1, 20, 0x1ff00, 0x100, 2].forEach((v, i) =>
    view.setUint32(cmdInBufferOffset + 4 * i, v, true)
  );
  const cmd = readFwsecCommand(dmem, interfaceOffset);
  assert(cmd.ok);
  assert.equal(cmd.mapperOffset, mapperOffset);
  assert.equal(cmd.initCmd, 0x15);
  assert.deepEqual(cmd.frtsRegion, {
    version: 1,
    size: 20,
    offset4k: 0x1ff00,
    size4k: 0x100,
    mediaType: 2,
  });
  assert.equal(cmd.readVbios.flags, 2);
});

Deno.test("a broken interface table or a mapper past DMEM is noDmemMapper", () => {
  const { dmem, interfaceOffset } = forgeFwsecDmem();
  const bad = dmem.slice();
  bad[interfaceOffset] = 2; // version 2
  const v = readFwsecCommand(bad, interfaceOffset);
  assert(!v.ok && v.rule === "noDmemMapper" && v.frtsError === 9);
  assert(!readFwsecCommand(dmem.subarray(0, 0x120), interfaceOffset).ok);
  assert(!readFwsecCommand(dmem, dmem.length).ok);
});

realVbiosTest("the real TU102 FWSEC's DMEM mapper ships unpatched (init_cmd 0)", (bytes) => {
  const fw = recogniseFwsec(bufferSource(bytes));
  if (fw.kind !== "fwsec") throw new Error("fwsec");
  const d = fw.fwsec.descriptor;
  if (d.descriptorVersion !== 2) throw new Error("TU102 has v2");
  const dmem = fw.fwsec.ucode.subarray(d.dmemOffset, d.dmemOffset + d.dmemLoadSize);
  const cmd = readFwsecCommand(dmem, d.interfaceOffset);
  assert(cmd.ok);
  assert.equal(cmd.initCmd, 0);
  assert.equal(cmd.mapperOffset, fw.fwsec.dmemMapper?.dmemOffset);
  assert.equal(cmd.cmdInSize, 64);
});
