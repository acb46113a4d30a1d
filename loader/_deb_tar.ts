/**
 * Reading a .deb with the system's tools: its data archive piped from
 * `dpkg-deb --fsys-tarfile` into `tar`, and a control field.
 *
 * @module
 */

import { FalconryError } from "../errors.ts";
import { lastLine, spawnGuard } from "./_command.ts";
import { type CommandResult, runCommand, stopOnInterrupt } from "./run_command.ts";

const decoder = new TextDecoder();

/** Run `dpkg-deb --fsys-tarfile deb | tar <tarArgs>` and collect tar's output. */
export async function tarOverDeb(deb: string, tarArgs: readonly string[]): Promise<CommandResult> {
  const dpkg = await spawnGuard("dpkg-deb", () =>
    Promise.resolve(
      new Deno.Command("dpkg-deb", {
        args: ["--fsys-tarfile", deb],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    ));
  using _stopDpkg = stopOnInterrupt(dpkg);
  const dpkgErr = new Response(dpkg.stderr).text();
  let tar: Deno.ChildProcess;
  try {
    tar = await spawnGuard("tar", () =>
      Promise.resolve(
        new Deno.Command("tar", {
          args: [...tarArgs],
          env: { LC_ALL: "C" },
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
        }).spawn(),
      ));
  } catch (e) {
    dpkg.kill();
    await Promise.allSettled([dpkg.status, dpkgErr, dpkg.stdout.cancel()]);
    throw e;
  }
  using _stopTar = stopOnInterrupt(tar);
  // When tar stops early the pipe breaks; tar's own message says why.
  const piping = dpkg.stdout.pipeTo(tar.stdin).catch(() => undefined);
  const [tarOut, dpkgStatus, dpkgText] = await Promise.all([tar.output(), dpkg.status, dpkgErr]);
  await piping;
  const tarResult = {
    code: tarOut.code,
    stdout: decoder.decode(tarOut.stdout),
    stderr: decoder.decode(tarOut.stderr),
  };
  if (tarResult.code === 0 && !dpkgStatus.success) {
    throw new FalconryError(`dpkg-deb --fsys-tarfile ${deb} failed: ${lastLine(dpkgText)}`);
  }
  return tarResult;
}

/** The `Version` control field of `deb`. */
export async function debVersion(deb: string): Promise<string> {
  const result = await runCommand(["dpkg-deb", "-f", deb, "Version"]);
  if (result.code !== 0) {
    throw new FalconryError(`dpkg-deb cannot read ${deb}: ${lastLine(result.stderr)}`);
  }
  return result.stdout.trim();
}
