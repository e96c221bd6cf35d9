// glibc's free memory given back to the kernel after a burst: malloc_trim(3), which returns the
// whole free pages inside the heaps of every arena (glibc gives back only the heap's top by
// itself, so after a queue drain the holes between the few buffers still in use stayed resident:
// 15 MiB of heap for 7 in use). Node has no way to call a C function, so it is called through
// SQLite's extension loader (better-sqlite3's loadExtension): SQLite looks the entry point up in
// the named library and calls it, and the entry point named is libc's malloc_trim. The pad it gets
// is SQLite's first argument (a pointer, so a large number): malloc_trim then leaves the heap's
// top alone (glibc trims that itself) and gives back the pages inside it, which is its job here.
// On x86-64 and arm64 a C function called with more arguments than it takes ignores the rest.
// Its result (1: memory was given back) reads to SQLite as an error code: an error here is the
// usual outcome, not a failure. Not glibc (musl): no malloc_trim, nothing done. better-sqlite3 is
// loaded at the first trim, not on import: a thread that imports this (quiet-gc.ts in the worker
// threads) and never trims does not load the native module.
import { createRequire } from 'node:module';

/** The C library that has malloc_trim, by its soname (already loaded in every glibc process). */
const LIBC = 'libc.so.6';

/** Whether this process runs on glibc (process.report names its version only there). */
export function onGlibc(): boolean {
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return typeof report.header?.glibcVersionRuntime === 'string';
}

/** What the trim needs of a connection: better-sqlite3 takes the entry point as a second argument; its types name only the path. */
type Loader = { loadExtension(file: string, entryPoint: string): void };

/**
 * A function that gives glibc's free heap pages back (one call walks every arena, so every
 * thread's), or a no-op off glibc. Its first call opens a private in-memory SQLite connection
 * (never the queue's: loading is enabled only on it).
 */
export function mallocTrim(glibc = onGlibc()): () => void {
  if (!glibc) return () => undefined;
  let db: Loader | undefined;
  return () => {
    if (!db) {
      const Database = createRequire(import.meta.url)('better-sqlite3') as typeof import('better-sqlite3');
      db = new Database(':memory:') as unknown as Loader;
    }
    try {
      db.loadExtension(LIBC, 'malloc_trim');
    } catch {
      // "error during initialization": malloc_trim said it gave memory back (see above).
    }
  };
}
