import assert from "node:assert/strict";
import {
  decodeRpcHeader,
  encodeRpcHeader,
  RPC_EVENT,
  RPC_FUNCTION,
  rpcName,
} from "../sim/gsp_rm/rpc.ts";

Deno.test("function and event numbers match the reference table", () => {
  assert.deepEqual(
    [
      RPC_FUNCTION.NOP,
      RPC_FUNCTION.UNLOADING_GUEST_DRIVER,
      RPC_FUNCTION.GET_GSP_STATIC_INFO,
      RPC_FUNCTION.CONTINUATION_RECORD,
      RPC_FUNCTION.GSP_SET_SYSTEM_INFO,
      RPC_FUNCTION.SET_REGISTRY,
      RPC_FUNCTION.GSP_RM_CONTROL,
    ],
    [0, 47, 65, 71, 72, 73, 76],
  );
  assert.deepEqual(
    [RPC_EVENT.GSP_INIT_DONE, RPC_EVENT.GSP_RUN_CPU_SEQUENCER, RPC_EVENT.UCODE_LIBOS_PRINT],
    [0x1001, 0x1002, 0x100c],
  );
});

Deno.test("the header round-trips byte for byte", () => {
  const bytes = encodeRpcHeader({ function: 73, payloadLength: 100, rpcResult: 0x25, sequence: 9 });
  assert.deepEqual(
    [...new Uint32Array(bytes.buffer)],
    [0x03000000, 0x43505256, 132, 73, 0x25, 0x25, 9, 0],
  );
  assert.deepEqual(decodeRpcHeader(bytes, 0), {
    headerVersion: 0x03000000,
    signature: 0x43505256,
    length: 132,
    function: 73,
    rpcResult: 0x25,
    rpcResultPrivate: 0x25,
    sequence: 9,
  });
  assert.equal(rpcName(RPC_FUNCTION.SET_REGISTRY), "SET_REGISTRY");
});
