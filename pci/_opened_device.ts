/**
 * The {@linkcode Device} the backends return: the parts, plus the stack that
 * releases them in reverse order of acquisition.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { ConfigSpace, Device, DeviceInfo, DeviceReset, DmaAllocator } from "./device.ts";
import type { Mmio } from "./mmio.ts";

/** A device opened by a backend; disposing it releases everything it holds. */
export class OpenedDevice implements Device {
  #resources: DisposableStack;

  constructor(
    readonly info: DeviceInfo,
    readonly bar0: Mmio,
    readonly config: ConfigSpace,
    readonly dma: DmaAllocator,
    readonly readOnly: boolean,
    readonly clock: Clock,
    resources: DisposableStack,
    readonly reset?: DeviceReset,
  ) {
    this.#resources = resources;
  }

  [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#resources.dispose();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
