// An error as it crosses a thread or process boundary (structured clone keeps neither its class
// nor its code): its message and its code (ENOSPC, SQLITE_FULL, EBODYNEEDED …), and an Error
// again on the other side, the code kept (a storage fault stays one). Pure.

export interface WireError {
  message: string;
  code?: string;
}

export function toWireError(err: unknown): WireError {
  const code = (err as { code?: unknown } | null)?.code;
  return { message: err instanceof Error ? err.message : String(err), ...(typeof code === 'string' ? { code } : {}) };
}

export function fromWireError(error: WireError): Error {
  return Object.assign(new Error(error.message), error.code ? { code: error.code } : {});
}
