/**
 * GSP_INIT_DONE: the event GSP-RM sends once it has initialised; the boot
 * has succeeded when it arrives with a success result (NVIDIA 570.144
 * `kgspWaitForRmInitDone_IMPL` checks `rpc_result`; reference §3.10). The
 * wait consumes and skips unrelated messages, 5 s per message.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { waitInitDone } from "./init_done.ts";
 * assert.equal(typeof waitInitDone, "function");
 * ```
 *
 * @module
 */

import type { GspMessage, GspMessageQueues, WaitOptions } from "./msgq.ts";
import { RPC_EVENT, RPC_RESULT, RpcError } from "./rpc.ts";

/**
 * Wait for GSP_INIT_DONE.
 *
 * @param queues The message queues.
 * @param options Signal and per-message timeout (default 5 s).
 * @returns The event.
 * @throws {GspReceiveTimeoutError} naming GSP_INIT_DONE when it does not come.
 * @throws {RpcError} when it carries a failure.
 */
export async function waitInitDone(
  queues: GspMessageQueues,
  options: WaitOptions = {},
): Promise<GspMessage> {
  const message = await queues.waitFor(RPC_EVENT.GSP_INIT_DONE, options);
  if (message.header.rpcResult !== RPC_RESULT.SUCCESS.code) {
    throw new RpcError(message.function, message.header.rpcResult);
  }
  return message;
}
