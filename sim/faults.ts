/**
 * Fault injection: named points at which the simulated GPU misbehaves the
 * way real hardware does, listed by one function so that tests can iterate
 * over them.
 *
 * The registry is data: each point has a name, a description of the symptom
 * a host sees, and the block or model that owns it. Every part of the
 * simulator registers its points when its module loads
 * ({@linkcode registerFaultPoint}); {@linkcode faultPoints} lists them all.
 * A {@linkcode FaultInjector} (one per simulated GPU) arms points with
 * parameters; the owning block asks it whether its point is armed and
 * reports when the fault fired.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FaultInjector, faultPoints, registerFaultPoint } from "./faults.ts";
 *
 * registerFaultPoint({ name: "example-stuck-bit", description: "a bit never clears", owner: "EXAMPLE" });
 * assert(faultPoints().some((p) => p.name === "bus-fall-off"));
 * const faults = new FaultInjector();
 * faults.arm("example-stuck-bit", { bit: 3 });
 * assert.deepEqual(faults.armed("example-stuck-bit"), { bit: 3 });
 * faults.fired("example-stuck-bit", "bit 3 stuck");
 * assert.equal(faults.history()[0].detail, "bit 3 stuck");
 * assert.throws(() => faults.arm("no-such-point"), /unknown fault point/);
 * ```
 *
 * @module
 */

import type { BootPath, ChipInfo } from "../chips/chips.ts";
import { familyOf } from "../chips/chips.ts";
import { FalconryError } from "../errors.ts";

export type { BootPath, ChipInfo };

/** One fault point. */
export interface FaultPoint {
  /** Unique name, kebab-case (`bus-fall-off`). */
  readonly name: string;
  /** The symptom the host sees, as on hardware. */
  readonly description: string;
  /** The block or model that implements it (`bus`, `GSP falcon`, `GSP-RM`). */
  readonly owner: string;
  /** What parameters `arm` takes, in words (optional). */
  readonly parameters?: string;
  /**
   * The boot paths whose chips the point applies to (`sec2`: the TU102
   * family; `fsp`: Hopper). Absent: every path. A fault matrix over one
   * chip iterates {@linkcode faultPointsFor} it.
   */
  readonly bootPaths?: readonly BootPath[];
}

const REGISTRY = new Map<string, FaultPoint>();

/**
 * Add a fault point to the registry. Registering the same point again is a
 * no-op; another point under the same name is a programming error.
 *
 * @param point The point.
 * @returns The registered point.
 * @throws {FalconryError} When another point already has the name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registerFaultPoint } from "./faults.ts";
 * const p = { name: "example-twice", description: "x", owner: "EXAMPLE" };
 * assert.equal(registerFaultPoint(p), registerFaultPoint({ ...p }));
 * assert.throws(() => registerFaultPoint({ ...p, owner: "OTHER" }), /already registered/);
 * ```
 */
export function registerFaultPoint(point: FaultPoint): FaultPoint {
  const known = REGISTRY.get(point.name);
  if (known) {
    if (
      known.owner === point.owner && known.description === point.description &&
      known.parameters === point.parameters &&
      (known.bootPaths ?? []).join() === (point.bootPaths ?? []).join()
    ) return known;
    throw new FalconryError(`fault point ${point.name} is already registered by ${known.owner}`);
  }
  const frozen = Object.freeze({
    ...point,
    ...(point.bootPaths ? { bootPaths: Object.freeze([...point.bootPaths]) } : {}),
  });
  REGISTRY.set(point.name, frozen);
  return frozen;
}

/**
 * Every registered fault point, sorted by owner then name.
 *
 * @returns The points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { faultPoints } from "./faults.ts";
 * const names = faultPoints().map((p) => p.name);
 * assert.equal(new Set(names).size, names.length);
 * ```
 */
export function faultPoints(): FaultPoint[] {
  return [...REGISTRY.values()].sort((a, b) =>
    a.owner === b.owner ? a.name.localeCompare(b.name) : a.owner.localeCompare(b.owner)
  );
}

/**
 * Whether a point applies to a chip (its boot path is among the point's).
 *
 * @param point The point.
 * @param chip The chip.
 * @returns `true` when a boot of that chip can meet the point.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { faultPointAppliesTo } from "./faults.ts";
 * import { chipByName } from "../chips/chips.ts";
 * const point = { name: "x", description: "x", owner: "x", bootPaths: ["fsp"] as const };
 * assert(faultPointAppliesTo(point, chipByName("gh100")!));
 * assert(!faultPointAppliesTo(point, chipByName("tu102")!));
 * ```
 */
export function faultPointAppliesTo(point: FaultPoint, chip: ChipInfo): boolean {
  return !point.bootPaths || point.bootPaths.includes(familyOf(chip).bootPath);
}

/**
 * The registered points that apply to a chip, sorted as {@linkcode faultPoints}.
 *
 * @param chip The chip.
 * @returns The points.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { faultPointsFor } from "./faults.ts";
 * import { chipByName } from "../chips/chips.ts";
 * assert(faultPointsFor(chipByName("tu102")!).some((p) => p.name === "bus-fall-off"));
 * ```
 */
export function faultPointsFor(chip: ChipInfo): FaultPoint[] {
  return faultPoints().filter((p) => faultPointAppliesTo(p, chip));
}

/** One fault that fired. */
export interface FiredFault {
  /** The point. */
  readonly name: string;
  /** What happened. */
  readonly detail: string;
}

/** The armed fault points of one simulated GPU. */
export class FaultInjector {
  readonly #armed = new Map<string, Readonly<Record<string, unknown>>>();
  readonly #history: FiredFault[] = [];
  readonly #listeners = new Set<(name: string) => void>();

  /**
   * Arm a point.
   *
   * @param name A registered point.
   * @param parameters What the point takes (see its `parameters`).
   * @throws {FalconryError} For an unknown point.
   */
  arm(name: string, parameters: Record<string, unknown> = {}): void {
    if (!REGISTRY.has(name)) {
      throw new FalconryError(
        `unknown fault point ${name} (known: ${[...REGISTRY.keys()].join(", ")})`,
      );
    }
    this.#armed.set(name, Object.freeze({ ...parameters }));
    for (const listener of this.#listeners) listener(name);
  }

  /**
   * Disarm a point.
   *
   * @param name The point.
   */
  disarm(name: string): void {
    this.#armed.delete(name);
    for (const listener of this.#listeners) listener(name);
  }

  /**
   * A point's parameters while it is armed.
   *
   * @param name The point.
   * @returns The parameters, or `undefined` when not armed.
   */
  armed(name: string): Readonly<Record<string, unknown>> | undefined {
    return this.#armed.get(name);
  }

  /** The names of the armed points. */
  get armedNames(): string[] {
    return [...this.#armed.keys()];
  }

  /**
   * Record that a point fired.
   *
   * @param name The point.
   * @param detail What happened.
   */
  fired(name: string, detail: string): void {
    this.#history.push({ name, detail });
  }

  /** The faults that fired, oldest first. */
  history(): readonly FiredFault[] {
    return [...this.#history];
  }

  /**
   * Be told when a point is armed or disarmed (blocks that check a trigger on
   * a hot path cache it).
   *
   * @param listener Called with the point's name.
   * @returns A disposable that removes the listener.
   */
  onChange(listener: (name: string) => void): Disposable {
    this.#listeners.add(listener);
    return { [Symbol.dispose]: () => void this.#listeners.delete(listener) };
  }
}

/** The bus's fault point: the GPU stops answering. */
export const BUS_FALL_OFF: FaultPoint = registerFaultPoint({
  name: "bus-fall-off",
  description: "the GPU falls off the bus (Xid 79): from the trigger on, every BAR0 read " +
    "returns 0xffffffff, writes are lost and config space reads all ones; only a power " +
    "cycle brings it back",
  owner: "bus",
  parameters: "one of: afterAccesses (n more BAR0 accesses), atOffset (the first access to " +
    "this BAR0 offset, with write: true only a write), atTimeMs (device clock time); none: at once",
});
