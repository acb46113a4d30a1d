// Tests of loader/fetch_lock.ts: one fetch lock per cache, between two locks
// of one process (flock locks belong to an open file description) and
// between two processes, with the waiter told whom it waits for.

import assert from "node:assert/strict";
import { lockFetchCache } from "../loader/fetch_lock.ts";
import { withTempDir } from "./_fetch_fixture.ts";

const LOCK_MODULE = new URL("../loader/fetch_lock.ts", import.meta.url).href;

Deno.test("fetch lock: a second lock in the same process waits, names the holder, then gets it", async () => {
  await withTempDir(async (cache) => {
    const first = await lockFetchCache(cache);
    assert.equal(first.waited, false);
    assert.equal(first.waitedFor, undefined);
    assert.equal(await Deno.readTextFile(`${cache}/fetch.lock`), `${Deno.pid}\n`);
    const events: string[] = [];
    let announced!: () => void;
    const waiting = new Promise<void>((resolve) => announced = resolve);
    const second = lockFetchCache(cache, {
      waitNoticeMs: 1,
      onWait: (pid) => {
        events.push(`wait for ${pid}`);
        announced();
      },
    }).then((lock) => {
      events.push("locked");
      return lock;
    });
    await waiting;
    assert.deepEqual(events, [`wait for ${Deno.pid}`], "still waiting while the first holds it");
    await first[Symbol.asyncDispose]();
    await using lock = await second;
    assert.deepEqual(events, [`wait for ${Deno.pid}`, "locked"]);
    assert.equal(lock.waited, true);
    assert.equal(lock.waitedFor, Deno.pid);
    assert.ok(lock.waitMs > 0);
  });
});

Deno.test("fetch lock: a lock held by another process is waited for until that process lets go", async () => {
  await withTempDir(async (cache) => {
    const holder = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { lockFetchCache } from ${JSON.stringify(LOCK_MODULE)};
        await using _lock = await lockFetchCache(${JSON.stringify(cache)});
        console.log("locked");
        for await (const _ of Deno.stdin.readable) { /* hold until stdin closes */ }`,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value?.trim(), "locked");
    let waitedFor: number | undefined;
    const locking = lockFetchCache(cache, {
      waitNoticeMs: 1,
      onWait: (pid) => {
        waitedFor = pid;
        // Let the holder go only once this one is seen waiting.
        holder.stdin.close();
      },
    });
    await using lock = await locking;
    assert.equal(lock.waited, true);
    assert.equal(waitedFor, holder.pid);
    assert.equal(lock.waitedFor, holder.pid);
    assert.equal((await holder.status).code, 0);
    await reader.cancel();
    assert.equal(await Deno.readTextFile(lock.path), `${Deno.pid}\n`);
  });
});
