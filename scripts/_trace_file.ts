/**
 * `--trace FILE` for the scripts that drive a GPU (`boot.ts`, `unload.ts`,
 * `reset.ts`): a Chrome/Perfetto trace-event JSON of every step and wait, one
 * track per GPU, written when the command ends, whatever its outcome. The
 * recording itself is the library's (`trace.ts`); this file holds the option,
 * the up-front check of FILE's folder, and the writing.
 *
 * How a script uses it:
 *
 * ```ts ignore
 * const trace = traceFile(args.string("trace"));     // undefined without --trace
 * await using gpu = await openGpu(target);
 * const tracer = trace?.device(gpu, "0000:01:00.0");  // the GPU's track
 * const device = tracer?.device ?? gpu;              // hand this to the driver
 * await unloadGsp(device, { onStep: (e) => { tracer?.onStep(e); view.onStep(e); } });
 * await trace?.write();                              // in a finally: failures are traced too
 * ```
 *
 * A step that is not a `BootStepEvent` (a reset rung) is traced the same way:
 * `tracer.onStep({ step: "flr", phase: "start" })`, then
 * `tracer.onStep({ step: "flr", phase: "end" | "fail", ms, detail })`; an
 * `end` without its `start` is placed `ms` before the moment it is reported.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { traceFile } from "./_trace_file.ts";
 * import { SimulatedGpu } from "../sim/mod.ts";
 * const dir = await Deno.makeTempDir();
 * const trace = traceFile(`${dir}/boot.json`)!;
 * await using gpu = new SimulatedGpu({ chip: "tu102" });
 * const tracer = trace.device(gpu, "tu102");
 * tracer.onStep({ step: "gfw-boot", phase: "start" });
 * await tracer.device.clock.sleep(5);
 * tracer.onStep({ step: "gfw-boot", phase: "end", ms: 5 });
 * await trace.write();
 * const doc = JSON.parse(await Deno.readTextFile(`${dir}/boot.json`));
 * assert.deepEqual(doc.traceEvents.filter((e: { ph: string }) => e.ph === "X").map((e: { name: string }) => e.name), ["gfw-boot", "wait memory"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import type { Device } from "../pci/device.ts";
import { type DeviceTracer, traceDevice, TraceRecorder } from "../trace.ts";
import { type OptionSpec, PathError, requirePath, writeOutputFile } from "./_cli.ts";

/** The `--trace FILE` option, the same on every script. */
export const TRACE_OPTION: OptionSpec = {
  type: "string",
  valueName: "FILE",
  description: "write a Chrome/Perfetto trace-event JSON of every step and wait to FILE " +
    "(one track per GPU; open it in ui.perfetto.dev)",
};

/** A trace file being recorded. */
export class TraceFile {
  /** The tracks. */
  readonly recorder: TraceRecorder = new TraceRecorder();

  /**
   * @param path Where {@linkcode TraceFile.write} puts it.
   * @param flag The option that named it, for messages.
   */
  constructor(readonly path: string, readonly flag = "--trace") {}

  /**
   * Record a device on a track of its own.
   *
   * @param device The opened device.
   * @param label The track's name (the PCI address, `tu102#0`).
   * @returns The tracer: hand `tracer.device` to the driver, feed it the steps.
   */
  device(device: Device, label: string): DeviceTracer {
    const tracer = traceDevice(device);
    const track = this.recorder.track(label, tracer.anchor());
    tracer.sink = (span) => track.add(span);
    return tracer;
  }

  /** Write the trace (the whole document at once). */
  async write(): Promise<void> {
    const text = JSON.stringify(this.recorder.toJSON());
    await writeOutputFile(this.path, new TextEncoder().encode(text), this.flag);
  }
}

/**
 * The trace file `--trace` names, checked now (its folder must exist, and
 * it must not be a folder), or undefined without the option.
 *
 * @param path The option's value.
 * @param flag The option's name.
 * @returns The trace file to record into.
 * @throws {PathError} When FILE cannot be written there.
 */
export function traceFile(path: string | undefined, flag = "--trace"): TraceFile | undefined {
  if (path === undefined) return undefined;
  let isDirectory = false;
  try {
    isDirectory = Deno.statSync(path).isDirectory;
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    const parent = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
    try {
      requirePath(parent, "directory");
    } catch (e) {
      if (!(e instanceof PathError)) throw e;
      throw new PathError(path, "file", `cannot be created: ${e.problem} ${parent}`, flag);
    }
  }
  if (isDirectory) requirePath(path, "file", flag);
  return new TraceFile(path, flag);
}
