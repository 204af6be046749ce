// The machine a run measured, recorded beside its numbers: the same suite on
// another CPU or kernel gives other ratios.
import { execFileSync } from "node:child_process";
import * as os from "node:os";

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? "unknown",
    cores: cpus.length,
    kernel: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    ramBytes: os.totalmem(),
  };
}

/** `<binary> --version`'s first line, or null when it does not run. */
export function version(binary) {
  try {
    return execFileSync(binary, ["--version"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n")[0].trim();
  } catch {
    return null;
  }
}

export function describeMachine(m) {
  return `${m.cpu}, ${m.cores} cores, ${(m.ramBytes / 2 ** 30).toFixed(0)} GiB RAM, ${m.kernel} (${m.arch})`;
}
