// What the worker threads' clients share (offload/client.ts for the checks, offload/writers.ts for
// the Maildir writers): the entry file of a thread beside its client, and the exact copy of a
// view that postMessage should send. No state, no side effects.

/** A view is cloned with its whole buffer (a small Buffer shares an 8 KiB pool): an exact copy of a view. */
export function exact<T extends Uint8Array>(bytes: T): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : new Uint8Array(bytes);
}

/**
 * The entry file `name` beside the module at `base` (its import.meta.url), with that module's
 * extension: .js from dist/, .ts from the sources.
 */
export function threadEntry(name: string, base: string): URL {
  return new URL(`./${name}${base.slice(base.lastIndexOf('.'))}`, base);
}
