import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsEndpoint {
  /** e.g. http://127.0.0.1:9810/metrics */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The agent's Prometheus endpoint: `GET /metrics` in the text format, `GET /` a one-line pointer,
 * anything else 404. No authentication, like node_exporter: it serves numbers, not secrets;
 * bind it to an internal address (monitor.metrics.listen) where that matters.
 */
export async function startMetricsEndpoint(registry: Registry, listen: string, port: number): Promise<MetricsEndpoint> {
  const server: Server = createServer((request, response) => {
    const url = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('only GET\n');
      return;
    }
    if (url === '/metrics') {
      registry.metrics().then(
        (text) => response.writeHead(200, { 'content-type': registry.contentType }).end(request.method === 'HEAD' ? undefined : text),
        (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot collect metrics: ${error instanceof Error ? error.message : String(error)}\n`),
      );
      return;
    }
    if (url === '/') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('Keisan agent: metrics at /metrics\n');
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found: metrics are at /metrics\n');
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, listen, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen.includes(':') ? `[${listen}]` : listen;
  return {
    url: `http://${host}:${address.port}/metrics`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
