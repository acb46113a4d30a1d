import assert from "node:assert/strict";
import { FaultInjector, faultPoints, registerFaultPoint } from "../sim/faults.ts";
import "../sim/simulated_gpu.ts";

Deno.test("faults: every point has a unique name, a description and an owner", () => {
  const points = faultPoints();
  assert(points.length >= 1);
  assert.equal(new Set(points.map((p) => p.name)).size, points.length);
  for (const p of points) {
    assert.match(p.name, /^[a-z0-9]+(-[a-z0-9]+)*$/, p.name);
    assert(p.description.length > 20, p.name);
    assert(p.owner.length > 0, p.name);
  }
  assert.equal(points.find((p) => p.name === "bus-fall-off")?.owner, "bus");
});

Deno.test("faults: other owners register into the same list, by data", () => {
  registerFaultPoint({
    name: "test-fwsec-hang",
    description: "FWSEC never halts; the host's wait for HALTED times out",
    owner: "test FWSEC",
  });
  assert(faultPoints().some((p) => p.name === "test-fwsec-hang" && p.owner === "test FWSEC"));
  assert.throws(
    () => registerFaultPoint({ name: "bus-fall-off", description: "other", owner: "other" }),
    /already registered by bus/,
  );
});

Deno.test("faults: an injector arms, reports and disarms points, and tells listeners", () => {
  const faults = new FaultInjector();
  const seen: string[] = [];
  {
    using _listener = faults.onChange((name) => seen.push(name));
    faults.arm("bus-fall-off", { afterAccesses: 3 });
    assert.deepEqual(faults.armed("bus-fall-off"), { afterAccesses: 3 });
    assert.deepEqual(faults.armedNames, ["bus-fall-off"]);
    faults.disarm("bus-fall-off");
  }
  faults.arm("bus-fall-off");
  assert.deepEqual(seen, ["bus-fall-off", "bus-fall-off"], "the disposed listener hears nothing");
  assert.throws(() => faults.arm("no-such-point"), /unknown fault point no-such-point/);
  faults.fired("bus-fall-off", "at once");
  assert.deepEqual(faults.history(), [{ name: "bus-fall-off", detail: "at once" }]);
});
