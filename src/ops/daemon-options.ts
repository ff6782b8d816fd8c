import { existsSync } from 'node:fs';
import { loadFacilityFile, resolveDataDir, serverUrlOf } from '../lib/config.ts';
import { KeisanError } from '../lib/errors.ts';
import { readNodeSecret } from '../server/facility.ts';

/**
 * Where an agent or watchdog finds its server and node secret: --server / KEISAN_SERVER, else
 * the data directory's keisan.yaml; KEISAN_NODE_SECRET, else the data directory's node-secret.
 */
export function daemonConnection(options: { data?: string; server?: string }): { serverUrl: string; nodeSecret: string } {
  const dataDir = resolveDataDir(options.data);
  const envPort = process.env.KEISAN_PORT;
  let serverUrl = options.server ?? process.env.KEISAN_SERVER;
  if (!serverUrl) {
    const facility = loadFacilityFile(dataDir);
    const port = envPort ? Number(envPort) : facility.settings.server.port;
    serverUrl = serverUrlOf({ ...facility.settings, server: { ...facility.settings.server, port } });
  }
  let nodeSecret = process.env.KEISAN_NODE_SECRET;
  if (!nodeSecret) {
    if (!existsSync(`${dataDir}/node-secret`)) {
      throw new KeisanError('NOT_FOUND', `no node secret: set KEISAN_NODE_SECRET or copy the server's node-secret file into ${dataDir}`);
    }
    nodeSecret = readNodeSecret(dataDir);
  }
  return { serverUrl: serverUrl.replace(/\/$/, ''), nodeSecret };
}
