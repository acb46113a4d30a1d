import assert from "node:assert/strict";
import { type Clock, ManualClock, systemClock } from "../pci/clock.ts";

Deno.test("ManualClock: time moves only by advance and sleep", async () => {
  const clock = new ManualClock({ start: 100 });
  assert.equal(clock.now(), 100);
  assert.equal(clock.now(), 100, "reading the time does not move it");
  clock.advance(2.5);
  assert.equal(clock.now(), 102.5);
  await clock.sleep(7.5);
  assert.equal(clock.now(), 110);
  await clock.sleep(0);
  assert.equal(clock.now(), 110);
  assert.equal(clock.sleeps, 2);
  assert.equal(new ManualClock().now(), 0);
});

Deno.test("ManualClock: an hour of sleeps costs no real time, and timers still run", async () => {
  const clock = new ManualClock();
  let timerRan = false;
  setTimeout(() => timerRan = true, 0);
  let turns = 0;
  while (clock.now() < 3_600_000) {
    await clock.sleep(1000);
    turns++;
  }
  assert.equal(turns, 3600);
  assert.equal(clock.now(), 3_600_000);
  assert.ok(timerRan, "each sleep yields one turn of the event loop, so timers run meanwhile");
});

Deno.test("ManualClock: a sleep yields to the event loop before it resolves", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  const sleeping = clock.sleep(5).then(() => order.push(`slept at ${clock.now()}`));
  await Promise.resolve();
  order.push(`microtask at ${clock.now()}`);
  await sleeping;
  assert.deepEqual(order, ["microtask at 0", "slept at 5"]);
});

Deno.test("ManualClock: abort before or during a sleep rejects and leaves time alone", async () => {
  const clock = new ManualClock();
  await assert.rejects(clock.sleep(10, AbortSignal.abort(new Error("before"))), /before/);
  const controller = new AbortController();
  const pending = clock.sleep(10, controller.signal);
  controller.abort(new Error("during"));
  await assert.rejects(pending, /during/);
  assert.equal(clock.now(), 0);
  assert.equal(clock.sleeps, 0);
  // The signal's listener is gone with the sleep: a later abort changes nothing.
  const later = new AbortController();
  await clock.sleep(1, later.signal);
  later.abort();
  assert.equal(clock.now(), 1);
});

Deno.test("ManualClock and systemClock refuse delays that are not finite and ≥ 0", async () => {
  for (const clock of [new ManualClock(), systemClock] as Clock[]) {
    for (const bad of [-1, NaN, Infinity]) {
      await assert.rejects(clock.sleep(bad), RangeError, String(bad));
    }
  }
  assert.throws(() => new ManualClock().advance(-0.5), RangeError);
  assert.throws(() => new ManualClock({ start: NaN }), RangeError);
});

Deno.test("systemClock: now is performance.now, and sleep waits for the timer", async () => {
  const before = performance.now();
  const now = systemClock.now();
  assert.ok(now >= before && now <= performance.now());
  let fired = false;
  const timer = setTimeout(() => fired = true, 1);
  await systemClock.sleep(20);
  assert.ok(fired, "a 1 ms timer fires during a 20 ms sleep");
  clearTimeout(timer);
});

Deno.test("systemClock: sleep(0) is one turn of the event loop", async () => {
  const order: string[] = [];
  const sleeping = systemClock.sleep(0).then(() => order.push("slept"));
  queueMicrotask(() => order.push("microtask"));
  await sleeping;
  assert.deepEqual(order, ["microtask", "slept"]);
});

Deno.test("systemClock: abort ends a long sleep and clears its timer", async () => {
  // The test sanitizer fails the test if the 60 s timer or the listener outlived the abort.
  const controller = new AbortController();
  const pending = systemClock.sleep(60_000, controller.signal);
  setTimeout(() => controller.abort(new Error("user pressed ^C")), 0);
  await assert.rejects(pending, /user pressed \^C/);
  await assert.rejects(
    systemClock.sleep(60_000, AbortSignal.abort(new Error("already"))),
    /already/,
  );
  const zero = new AbortController();
  const yielding = systemClock.sleep(0, zero.signal);
  zero.abort(new Error("before the turn"));
  await assert.rejects(yielding, /before the turn/);
});
