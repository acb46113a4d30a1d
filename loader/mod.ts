/**
 * The loader: firmware files at the edge. Where firmware is looked for
 * (`--firmware DIR`, `FALCONRY_FIRMWARE_DIR`, the cache, `/lib/firmware`),
 * fetching Debian's `firmware-nvidia-graphics` into the cache, the sha256
 * manifest, locating a chip's files, and reading the GSP image straight into
 * DMA-ready memory.
 *
 * @example Where would falconry look for TU102's firmware?
 * ```ts
 * import { locateFirmware } from "./mod.ts";
 *
 * const located = await locateFirmware({ chip: "tu102", version: "570.144" });
 * for (const f of located.files) console.log(f.file.name, f.found ?? "missing");
 * ```
 *
 * @module
 */
export * from "./firmware_dirs.ts";
export * from "./manifest.ts";
export * from "./verify.ts";
export * from "./locate.ts";
export * from "./apt_sources.ts";
export * from "./apt_config.ts";
export * from "./deb_members.ts";
export * from "./run_command.ts";
export * from "./fetch_progress.ts";
export * from "./fetch_lock.ts";
export * from "./fetch_work_dir.ts";
export * from "./install.ts";
export * from "./fetch.ts";
export * from "./gsp_image.ts";
export * from "./firmware_set.ts";
