// Types of windows.mjs for the TypeScript tests that import it.
export declare const WINE: string;
export declare const WINDOWS_NOISE: RegExp;
export declare const WINDOWS_LEFT_OUT: Readonly<Record<string, string>>;
export declare function windowsMissing(): string | null;
export declare function ensureWindowsBun(root: string): string;
export declare function winePath(path: string): string;
export declare function windowsEnv(env: Record<string, string | undefined>, root: string, bun: string): Record<string, string | undefined>;
export declare function windowsSuite(suite: readonly string[]): string[];
