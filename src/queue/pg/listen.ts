// LISTEN on its own connection (a pooled one would be handed to other queries): each NOTIFY
// payload of the channel goes to `onPayload`. A broken connection (the server restarted) is made
// again after a pause, and LISTEN sent again (then `onRelisten`: what was notified meanwhile was
// lost, so the caller looks for work); meanwhile the workers' polling finds the work.
import type pg from 'pg';

export interface Listener {
  close(): Promise<void>;
}

export async function listen(
  makeClient: () => pg.Client,
  channel: string,
  onPayload: (payload: string) => void,
  retryMs = 1000,
  onRelisten?: () => void,
): Promise<Listener> {
  let closed = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const c = makeClient();
    c.on('notification', (n) => {
      if (n.channel === channel) onPayload(n.payload ?? '');
    });
    c.on('error', () => {
      if (client === c) again();
    });
    c.on('end', () => {
      if (client === c) again();
    });
    client = c;
    await c.connect();
    await c.query(`LISTEN ${c.escapeIdentifier(channel)}`);
  };
  const again = (): void => {
    client = undefined;
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (!closed)
        connect().then(
          () => onRelisten?.(),
          () => again(),
        );
    }, retryMs);
    timer.unref();
  };
  await connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
