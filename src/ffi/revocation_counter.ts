/**
 * Counts revocations in a runtime's permission model. Asking the model costs
 * about as much as a warm `MemMapFS.open` itself (Deno's `querySync` is an op
 * call), so a granted answer is remembered (in `BoundLibc`); grants only grow,
 * except through the runtime's revoking call (`Deno.permissions.revoke` and
 * `revokeSync`, Node's `process.permission.drop`). That call is wrapped —
 * calling through, changing nothing else — to count, and a changed count
 * forgets every remembered answer.
 *
 * @module
 */

/**
 * How many times the runtime's revoking calls have been made.
 *
 * @example
 * ```ts
 * import { RevocationCounter } from "./revocation_counter.ts";
 * const permissions = { revoke(_what: string) {} };
 * const revocations = new RevocationCounter();
 * revocations.watch(permissions, "revoke");
 * permissions.revoke("read");
 * console.log(revocations.count); // 1
 * ```
 */
export class RevocationCounter {
  /** Grows on every revoking call, and again when an asynchronous one settles. */
  count = 0;

  /** Wraps `owner[name]`, a revoking function of the runtime, to count its calls. */
  watch<K extends string>(owner: { [key in K]: (...args: never[]) => unknown }, name: K): void {
    const original = owner[name];
    if (typeof original !== "function") return;
    const wrapped = (...args: never[]): unknown => {
      this.count++;
      const result = original.apply(owner, args);
      // Asynchronous: answers remembered while it was under way may hold what it took away.
      if (result instanceof Promise) return result.finally(() => this.count++);
      return result;
    };
    Object.defineProperty(owner, name, { value: wrapped, configurable: true, writable: true, enumerable: true });
  }
}
