// Free TCP ports on loopback for tests. Side effect: briefly binds and releases a socket.
import net from 'node:net';

/**
 * A port that was free a moment ago on `host` (the kernel's pick for port 0). Another process can
 * take it before the caller binds it; on a test machine running files one at a time that is rare.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected address ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}
