import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["mod.ts", "cli.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "es2022",
  platform: "neutral",
  // Runtime modules are loaded at run time by the shim of the runtime that has them.
  external: ["bun:ffi", "node:ffi", /^node:/],
});
