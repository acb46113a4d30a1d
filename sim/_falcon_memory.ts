/**
 * A falcon's IMEM or DMEM as the simulator keeps it: the bytes, and per
 * 256-byte block how it was last written (PIO or DMA) and, for IMEM, the tag
 * and secure bit it was written with. Private to `falcon.ts`.
 *
 * @module
 */

/** How a block of falcon memory was filled. */
export type LoadMethod = "pio" | "dma";

/** One 256-byte IMEM block as written since the last reset. */
export interface FalconImemBlock {
  /** Its tag: the virtual address / 256 it answers to. */
  tag: number;
  /** Whether it was written as secure (`IMEMC.SECURE` or `DMATRFCMD.SEC`). */
  secure: boolean;
  /** How it was written. */
  method: LoadMethod;
}

/** Bytes per falcon memory block (IMEM tags, HWCFG sizes, DMA chunks). */
export const FALCON_BLOCK_SIZE = 256;

/** One falcon memory with per-block bookkeeping. */
export class FalconMemory {
  readonly bytes: Uint8Array;
  readonly #view: DataView;
  /** IMEM: tag, secure and method per block; DMEM: method only (tag 0, not secure). */
  blocks: (FalconImemBlock | undefined)[];
  /** Method of the last write, `undefined` when none since reset. */
  lastMethod: LoadMethod | undefined;

  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.#view = new DataView(this.bytes.buffer);
    this.blocks = new Array(size / FALCON_BLOCK_SIZE).fill(undefined);
    this.lastMethod = undefined;
  }

  get size(): number {
    return this.bytes.length;
  }

  /** Scrub: zeros, no block written. */
  clear(): void {
    this.bytes.fill(0);
    this.blocks.fill(undefined);
    this.lastMethod = undefined;
  }

  /** Whether `[address, address + length)` is inside the memory. */
  contains(address: number, length: number): boolean {
    return address >= 0 && address + length <= this.bytes.length;
  }

  /** The block that holds `address`. */
  blockAt(address: number): FalconImemBlock | undefined {
    return this.blocks[Math.floor(address / FALCON_BLOCK_SIZE)];
  }

  readWord(address: number): number {
    return this.#view.getUint32(address, true);
  }

  /** Store one little-endian word and mark its block. */
  writeWord(address: number, value: number, block: FalconImemBlock): void {
    this.#view.setUint32(address, value >>> 0, true);
    this.#mark(address, 4, block);
  }

  /** Store bytes and mark every block they touch. */
  writeBytes(address: number, bytes: Uint8Array, block: FalconImemBlock): void {
    this.bytes.set(bytes, address);
    this.#mark(address, bytes.length, block);
  }

  #mark(address: number, length: number, block: FalconImemBlock): void {
    const first = Math.floor(address / FALCON_BLOCK_SIZE);
    const last = Math.floor((address + length - 1) / FALCON_BLOCK_SIZE);
    for (let i = first; i <= last; i++) this.blocks[i] = { ...block };
    this.lastMethod = block.method;
  }
}

/** One PIO port (IMEMC/IMEMD/IMEMT or DMEMC/DMEMD): its address and flags. */
export class PioPort {
  /** Byte address the next IMEMD/DMEMD access goes to. */
  address = 0;
  /** Auto-increment after a data write. */
  incrementOnWrite = false;
  /** Auto-increment after a data read. */
  incrementOnRead = false;
  /** IMEM only: blocks written are secure. */
  secure = false;
  /** IMEM only: the tag blocks written through the port get (IMEMT). */
  tag = 0;
}
