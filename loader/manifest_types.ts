/**
 * The shape of the sha256 manifest: which package it describes and the hash,
 * size or link target of every path. The data lives in the generated
 * `manifest.ts`; these types live here so that its generator
 * (`renderManifestModule` in `verify.ts`) and the data share one definition.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FirmwareManifest } from "./manifest_types.ts";
 * const empty: FirmwareManifest = {
 *   package: "firmware-nvidia-graphics",
 *   version: "",
 *   suite: "sid",
 *   component: "non-free-firmware",
 *   files: {},
 *   links: {},
 * };
 * assert(Object.keys(empty.files).length === 0);
 * ```
 *
 * @module
 */

/** One regular file of the manifest. */
export interface ManifestFile {
  /** Lower-case hex sha256 of the file's bytes. */
  readonly sha256: string;
  /** Length in bytes. */
  readonly size: number;
}

/** Which package the manifest describes, and what it holds. */
export interface FirmwareManifest {
  /** Debian package name. */
  readonly package: string;
  /** Debian package version the hashes were taken from. */
  readonly version: string;
  /** The suite the package is fetched from. */
  readonly suite: string;
  /** The archive component that holds it. */
  readonly component: string;
  /** Regular files: path relative to a firmware root → hash and size. */
  readonly files: Readonly<Record<string, ManifestFile>>;
  /** Symlinks: path relative to a firmware root → the link's (relative) target. */
  readonly links: Readonly<Record<string, string>>;
}
