/**
 * A TCP forwarder on loopback that a test can take down and bring back on the same port: an endpoint
 * that is unreachable (connection refused, open connections cut) and then reachable again, the way
 * an outage or a deploy of the service looks to a client. `reservePort()` gives a port with nothing
 * listening yet, for an endpoint that is down from the start.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly isUp: boolean;
  /** Starts listening (again) on the port. */
  up(): Promise<void>;
  /** Stops listening and cuts every open connection: clients get ECONNREFUSED / ECONNRESET. */
  down(): Promise<void>;
  close(): Promise<void>;
}

/** A loopback port nobody listens on right now. */
export async function reservePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as { port: number };
  s.close();
  await once(s, 'close');
  return port;
}

/** Forwards 127.0.0.1:<port> to `target` (a `http://host:port` URL). Starts down when `startUp` is false. */
export async function startTcpProxy(target: string, options: { port?: number; startUp?: boolean } = {}): Promise<TcpProxy> {
  const url = new URL(target);
  const port = options.port ?? (await reservePort());
  const sockets = new Set<Socket>();
  let server: Server | null = null;

  const proxy: TcpProxy = {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    get isUp() {
      return server !== null;
    },
    async up() {
      if (server) return;
      const s = createServer((client) => {
        const upstream = connect(Number(url.port), url.hostname);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      });
      s.listen(port, '127.0.0.1');
      await once(s, 'listening');
      server = s;
    },
    async down() {
      const s = server;
      if (!s) return;
      server = null;
      const closed = once(s, 'close');
      s.close();
      for (const sock of sockets) sock.destroy();
      await closed;
    },
    close: () => proxy.down(),
  };
  if (options.startUp !== false) await proxy.up();
  return proxy;
}
