// Importing by URL: serve the repository over HTTP on 127.0.0.1 and, in a
// separate Deno process without the project's config (so no import map),
// import mod.ts by that URL and parse a forged file with it.

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

const CONTENT_TYPES: Record<string, string> = {
  ts: "application/typescript",
  json: "application/json",
};

Deno.test("mod.ts imports by URL in a process without the project's config", async () => {
  const controller = new AbortController();
  const served: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes("..")) return new Response("no", { status: 400 });
      try {
        const body = await Deno.readFile(ROOT + path.slice(1));
        served.push(path);
        const ext = path.split(".").pop() ?? "";
        return new Response(body, {
          headers: { "content-type": CONTENT_TYPES[ext] ?? "application/octet-stream" },
        });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const dir = await Deno.makeTempDir({ prefix: "falconry-url-" });
  try {
    const script = `
      import { describeFirmware, parseBooter, patchBooter } from "${base}/mod.ts";
      import { forgeBooter } from "${base}/firmware/forge/mod.ts";
      const file = forgeBooter({ signatureSize: 384, signatureCount: 2, fuseVersion: 1 });
      const booter = parseBooter(file, "forged_booter.bin");
      const patched = patchBooter(booter, 1);
      const d = describeFirmware(file, "booter_load-570.144.bin");
      console.log(JSON.stringify({
        count: booter.signatureCount,
        size: booter.signatureSize,
        index: patched.signatureIndex,
        kind: d.kind,
      }));
    `;
    await Deno.writeTextFile(`${dir}/main.ts`, script);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-config",
        "--no-lock",
        `--allow-import=127.0.0.1:${server.addr.port}`,
        "--allow-env",
        "--allow-read",
        "main.ts",
      ],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, `URL import failed:\n${stderr}`);
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim());
    assert.deepEqual(result, { count: 2, size: 384, index: 0, kind: "booter" });
    assert.ok(served.includes("/mod.ts"), "mod.ts was fetched over HTTP");
    assert.ok(served.some((p) => p.startsWith("/firmware/")), "layer modules were fetched");
  } finally {
    controller.abort();
    await server.finished;
    await Deno.remove(dir, { recursive: true });
  }
});
