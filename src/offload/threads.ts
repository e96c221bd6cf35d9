// What the worker threads' clients share (offload/client.ts for the checks, offload/writers.ts for
// the Maildir writers): the entry file of a thread beside its client, the exact copy of a view
// that postMessage should send, and the batching of one turn's messages. No module state.

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

/**
 * Gathers what is given in one turn of the event loop and hands it to `flush` together at the
 * next turn: one message across to the other thread (one wake-up of it) instead of one per item.
 */
export function perTurn<T>(flush: (items: T[]) => void): (item: T) => void {
  let items: T[] = [];
  return (item) => {
    if (items.push(item) > 1) return;
    setImmediate(() => {
      const batch = items;
      items = [];
      flush(batch);
    });
  };
}
