import type { GatewayServer } from '../../src/serve/gateway/gateway-server.js';

/** The sum of a Prometheus metric's samples on the gateway's `/metrics` whose labels include `labels`. */
export async function metricValue(gateway: GatewayServer, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
