/**
 * A hand-written host side for the GSP-RM model tests, straight from
 * ../shared/reference/nova-core-boot.md §5 (and NVIDIA 570.144's
 * message_queue_cpu.c for the element rules). It shares no code with
 * sim/gsp_rm/: its own layout constants, id packing, checksum and queue
 * pointer arithmetic.
 */

import { SystemMemory } from "../sim/system_memory.ts";
import type { GspRmEffects } from "../sim/gsp_rm/gsp_rm.ts";

export const PAGE = 4096;
/** GspMem: PTE page + two 0x40000-byte queues (§5.1). */
export const SHARED_PAGES = 0x81;
export const CMDQ = 0x1000;
export const STATQ = 0x41000;
export const QUEUE_SLOTS = 63;
export const LOG_SIZE = 0x10000;

export const FN = {
  UNLOADING_GUEST_DRIVER: 47,
  GET_GSP_STATIC_INFO: 65,
  GSP_SET_SYSTEM_INFO: 72,
  SET_REGISTRY: 73,
  GSP_RM_CONTROL: 76,
  INIT_DONE: 0x1001,
  RUN_CPU_SEQUENCER: 0x1002,
} as const;

/** §5.1: ASCII name, first character most significant. */
export function packId(name: string): bigint {
  let value = 0n;
  for (let i = 0; i < name.length; i++) value = value * 256n + BigInt(name.charCodeAt(i));
  return value;
}

/** §5.2: XOR of little-endian u64 words, high32 ^ low32. */
export function xorFold(bytes: Uint8Array, length: number): number {
  const padded = new Uint8Array(Math.ceil(length / 8) * 8);
  padded.set(bytes.subarray(0, Math.min(length, padded.length)));
  const view = new DataView(padded.buffer);
  let acc = 0n;
  for (let i = 0; i < padded.length; i += 8) acc ^= view.getBigUint64(i, true);
  return Number((acc >> 32n) ^ (acc & 0xffffffffn));
}

export interface HostMessage {
  seqNum: number;
  elemCount: number;
  checksumOk: boolean;
  headerVersion: number;
  signature: number;
  function: number;
  result: number;
  payload: Uint8Array;
}

export interface HostOptions {
  /** LibOS region ids in page order; default LOGINIT, LOGINTR, LOGRM, RMARGS. */
  regions?: string[];
  /** Skip writing the command queue header (or corrupt one field). */
  cmdHeader?: Partial<
    Record<"version" | "size" | "msgSize" | "msgCount" | "rxHdrOff" | "entryOff", number>
  >;
}

/** Fake chip-side effects. */
export class FakeChip implements GspRmEffects {
  mailbox = [0, 0];
  halted = false;
  resumed = false;
  time = 0;
  now(): number {
    this.time += 1000;
    return this.time;
  }
  readMailbox(index: 0 | 1): number {
    return this.mailbox[index];
  }
  writeMailbox0(value: number): void {
    this.mailbox[0] = value >>> 0;
  }
  halt(): void {
    this.halted = true;
  }
  coreResumed(): boolean {
    return this.resumed;
  }
}

/** The host: DMA buffers, LibOS args, RMARGS, queue writer/reader. */
export class Host {
  readonly memory = new SystemMemory();
  readonly chip = new FakeChip();
  readonly libosArgs = new Uint8Array(PAGE);
  readonly rmArgs = new Uint8Array(PAGE);
  /** Shared area pages, mapped one by one at scattered IOVAs. */
  readonly pages: Uint8Array[] = [];
  readonly pageIova: bigint[] = [];
  readonly logs = new Map<string, { iova: bigint; bytes: Uint8Array }>();
  readonly libosArgsIova = 0x1_0000_0000n;
  readonly rmArgsIova = 0x2_0000_0000n;
  seq = 0;
  expectedRxSeq = 0;
  writePtr = 0;
  readPtr = 0;

  constructor(options: HostOptions = {}) {
    this.memory.map(this.libosArgsIova, this.libosArgs);
    this.memory.map(this.rmArgsIova, this.rmArgs);
    // Scatter the shared pages: page i at 0x3_0000_0000 + ((i * 37) % 129) * 2 pages.
    for (let i = 0; i < SHARED_PAGES; i++) {
      const bytes = new Uint8Array(PAGE);
      const iova = 0x3_0000_0000n + BigInt(((i * 37) % SHARED_PAGES) * 2 * PAGE);
      this.memory.map(iova, bytes);
      this.pages.push(bytes);
      this.pageIova.push(iova);
    }
    for (let i = 0; i < SHARED_PAGES; i++) this.#setU64(0, i * 8, this.pageIova[i]);

    // Command queue tx header (§5.1).
    const header = {
      version: 0,
      size: 0x40000,
      msgSize: 0x1000,
      msgCount: QUEUE_SLOTS,
      writePtr: 0,
      flags: 1,
      rxHdrOff: 0x20,
      entryOff: 0x1000,
      ...options.cmdHeader,
    };
    const fields = [
      header.version,
      header.size,
      header.msgSize,
      header.msgCount,
      header.writePtr,
      header.flags,
      header.rxHdrOff,
      header.entryOff,
    ];
    fields.forEach((v, i) => this.setU32(CMDQ + i * 4, v));

    // RMARGS (§5.1 MESSAGE_QUEUE_INIT_ARGUMENTS, GSP_ARGUMENTS_CACHED).
    const rm = new DataView(this.rmArgs.buffer);
    rm.setBigUint64(0, this.pageIova[0], true);
    rm.setUint32(8, SHARED_PAGES, true);
    rm.setBigUint64(16, BigInt(CMDQ), true);
    rm.setBigUint64(24, BigInt(STATQ), true);
    rm.setUint8(48, 1); // bDmemStack

    // LibOS args and log buffers (§5.1).
    const regions = options.regions ?? ["LOGINIT", "LOGINTR", "LOGRM", "RMARGS"];
    const args = new DataView(this.libosArgs.buffer);
    let logIova = 0x4_0000_0000n;
    regions.forEach((name, index) => {
      const at = index * 32;
      args.setBigUint64(at, packId(name), true);
      if (name === "RMARGS") {
        args.setBigUint64(at + 8, this.rmArgsIova, true);
        args.setBigUint64(at + 16, BigInt(PAGE), true);
      } else {
        const bytes = new Uint8Array(LOG_SIZE);
        const view = new DataView(bytes.buffer);
        for (let p = 0; p < LOG_SIZE / PAGE; p++) {
          view.setBigUint64(8 + p * 8, logIova + BigInt(p * PAGE), true);
        }
        this.memory.map(logIova, bytes);
        this.logs.set(name, { iova: logIova, bytes });
        args.setBigUint64(at + 8, logIova, true);
        args.setBigUint64(at + 16, BigInt(LOG_SIZE), true);
        logIova += 0x10_0000n;
      }
      args.setUint8(at + 24, 1);
      args.setUint8(at + 25, 1);
    });
    this.chip.mailbox = [
      Number(this.libosArgsIova & 0xffffffffn),
      Number(this.libosArgsIova >> 32n),
    ];
  }

  u32(offset: number): number {
    const page = this.pages[Math.floor(offset / PAGE)];
    return new DataView(page.buffer).getUint32(offset % PAGE, true);
  }

  setU32(offset: number, value: number): void {
    const page = this.pages[Math.floor(offset / PAGE)];
    new DataView(page.buffer).setUint32(offset % PAGE, value >>> 0, true);
  }

  #setU64(page: number, at: number, value: bigint): void {
    const p = this.pages[page + Math.floor(at / PAGE)];
    new DataView(p.buffer).setBigUint64(at % PAGE, value, true);
  }

  /** Bytes of `slots` whole slots of a queue, starting at `slot` (wrapping). */
  readSlots(queue: number, slot: number, slots: number): Uint8Array {
    const out = new Uint8Array(slots * PAGE);
    for (let i = 0; i < slots; i++) {
      const page = (queue + 0x1000) / PAGE + ((slot + i) % QUEUE_SLOTS);
      out.set(this.pages[page], i * PAGE);
    }
    return out;
  }

  writeSlots(queue: number, slot: number, bytes: Uint8Array): void {
    for (let i = 0; i * PAGE < bytes.length; i++) {
      const page = (queue + 0x1000) / PAGE + ((slot + i) % QUEUE_SLOTS);
      this.pages[page].set(bytes.subarray(i * PAGE, (i + 1) * PAGE));
    }
  }

  /** Build an element exactly as §5.2 says; `tamper` edits it before it is written. */
  element(
    fn: number,
    payload: Uint8Array,
    tamper?: (view: DataView, bytes: Uint8Array) => void,
  ): Uint8Array {
    const length = 80 + payload.length;
    const elemCount = Math.ceil(length / PAGE);
    const bytes = new Uint8Array(elemCount * PAGE);
    const view = new DataView(bytes.buffer);
    view.setUint32(0x24, this.seq, true);
    view.setUint32(0x28, elemCount, true);
    view.setUint32(0x30, 0x03000000, true);
    view.setUint32(0x34, 0x43505256, true);
    view.setUint32(0x38, 32 + payload.length, true);
    view.setUint32(0x3c, fn, true);
    view.setUint32(0x40, 0xffffffff, true);
    view.setUint32(0x44, 0xffffffff, true);
    bytes.set(payload, 80);
    view.setUint32(0x20, xorFold(bytes, length), true);
    tamper?.(view, bytes);
    return bytes;
  }

  /** Write an element at the write pointer and advance it by its slots (then "ring the doorbell"). */
  send(
    fn: number,
    payload: Uint8Array,
    tamper?: (view: DataView, bytes: Uint8Array) => void,
  ): void {
    const bytes = this.element(fn, payload, tamper);
    this.sendRaw(bytes, bytes.length / PAGE);
  }

  sendRaw(bytes: Uint8Array, advance: number): void {
    this.writeSlots(CMDQ, this.writePtr, bytes);
    this.writePtr = (this.writePtr + advance) % QUEUE_SLOTS;
    this.setU32(CMDQ + 0x10, this.writePtr);
    this.seq++;
  }

  /** The GSP's status-queue header as written. */
  statusHeader(): number[] {
    return Array.from({ length: 8 }, (_, i) => this.u32(STATQ + i * 4));
  }

  /** GSP's read pointer into the command queue (its own rx header, SWAP_RX). */
  gspReadPtr(): number {
    return this.u32(STATQ + 0x20);
  }

  /** Take every message the GSP wrote, checking checksum and sequence numbers. */
  receiveAll(): HostMessage[] {
    const messages: HostMessage[] = [];
    for (;;) {
      const gspWrite = this.u32(STATQ + 0x10);
      if (gspWrite === this.readPtr) return messages;
      const first = this.readSlots(STATQ, this.readPtr, 1);
      const elemCount = new DataView(first.buffer).getUint32(0x28, true);
      const bytes = this.readSlots(STATQ, this.readPtr, elemCount);
      const view = new DataView(bytes.buffer);
      const length = view.getUint32(0x38, true);
      messages.push({
        seqNum: view.getUint32(0x24, true),
        elemCount,
        checksumOk: xorFold(bytes, 48 + length) === 0,
        headerVersion: view.getUint32(0x30, true),
        signature: view.getUint32(0x34, true),
        function: view.getUint32(0x3c, true),
        result: view.getUint32(0x40, true),
        payload: bytes.slice(80, 48 + length),
      });
      this.readPtr = (this.readPtr + Math.ceil((48 + length) / PAGE)) % QUEUE_SLOTS;
      this.setU32(CMDQ + 0x20, this.readPtr);
    }
  }
}

/** A 920-byte GspSystemInfo with a few fields set (§5.3). */
export function systemInfoPayload(): Uint8Array {
  const bytes = new Uint8Array(920);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, 0xf000_0000n, true);
  view.setBigUint64(72, (1n << 47n) - 4096n, true);
  view.setUint32(88, (0x1e02 << 16) | 0x10de, true);
  return bytes;
}

/** PACKED_REGISTRY_TABLE (§5.3), DWORD entries with length 4 as NVIDIA writes them. */
export function registryPayload(entries: [string, number][], pad = 0): Uint8Array {
  const header = 8 + 16 * entries.length;
  const names = entries.map(([name]) => name + "\0").join("");
  const size = header + names.length + pad;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, size, true);
  view.setUint32(4, entries.length, true);
  let nameAt = header;
  entries.forEach(([name, data], i) => {
    view.setUint32(8 + i * 16, nameAt, true);
    view.setUint8(8 + i * 16 + 4, 1);
    view.setUint32(8 + i * 16 + 8, data, true);
    view.setUint32(8 + i * 16 + 12, 4, true);
    for (let c = 0; c < name.length; c++) bytes[nameAt + c] = name.charCodeAt(c);
    nameAt += name.length + 1;
  });
  return bytes;
}

/** UNLOADING_GUEST_DRIVER payload (§5.3). */
export function unloadPayload(newLevel = 0): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setUint32(4, newLevel, true);
  return bytes;
}

/** Decode a `rpc_run_cpu_sequencer_v17_00` payload (§3.10 with its correction). */
export function decodeSequencer(payload: Uint8Array): {
  bufferSizeDWord: number;
  cmdIndex: number;
  commands: { opcode: number; args: number[] }[];
  endPosition: number;
} {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const bufferSizeDWord = view.getUint32(0, true);
  const cmdIndex = view.getUint32(4, true);
  const argWords = [2, 3, 5, 1, 2, 0, 0, 0, 0];
  const commands: { opcode: number; args: number[] }[] = [];
  let position = 0;
  while (position < cmdIndex) {
    const opcode = view.getUint32(40 + position * 4, true);
    const count = argWords[opcode];
    if (count === undefined) throw new Error(`opcode ${opcode} at word ${position}`);
    const args = Array.from(
      { length: count },
      (_, i) => view.getUint32(40 + (position + 1 + i) * 4, true),
    );
    commands.push({ opcode, args });
    position += 1 + count;
  }
  return { bufferSizeDWord, cmdIndex, commands, endPosition: position };
}

/** Decode a LibOS log buffer backwards from its put pointer (liblogdecode.c's order). */
export function decodeLog(
  bytes: Uint8Array,
  formats: Record<string, { meta: bigint; argumentCount: number }>,
): { name: string; args: bigint[]; timestamp: bigint }[] {
  const view = new DataView(bytes.buffer);
  const entries = BigInt(bytes.length / 8 - 1);
  const word = (k: bigint) => view.getBigUint64(Number(8n * (1n + (k % entries))), true);
  const byMeta = new Map(Object.entries(formats).map(([name, f]) => [f.meta, { name, ...f }]));
  let put = view.getBigUint64(0, true);
  const records: { name: string; args: bigint[]; timestamp: bigint }[] = [];
  while (put > 0n) {
    const timestamp = word(--put);
    const meta = byMeta.get(word(--put));
    if (!meta) throw new Error(`unknown metadata at word ${put}`);
    const args: bigint[] = [];
    for (let j = 0; j < meta.argumentCount; j++) args.unshift(word(--put));
    records.unshift({ name: meta.name, args, timestamp });
  }
  return records;
}
