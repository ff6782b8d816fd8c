import { existsSync } from 'node:fs';
import { loadFacilityFile, resolveDataDir, serverUrlOf } from '../lib/config.ts';
import { KeisanError } from '../lib/errors.ts';
import { readNodeSecret } from '../server/facility.ts';
import { splitServerList, useServerSet } from '../server/ha/follow.ts';

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
    // HA: every server of the set (keisan.yaml ha.servers); requests follow the active one.
    serverUrl = facility.settings.ha ? facility.settings.ha.servers.join(',') : serverUrlOf({ ...facility.settings, server: { ...facility.settings.server, port } });
  }
  // --server a,b (or KEISAN_SERVER): the servers of an HA set. The daemons' requests go through
  // src/server/ha/follow.ts serverSet(serverUrl), which follows the active one of them.
  const servers = splitServerList(serverUrl).map((s) => s.replace(/\/$/, ''));
  if (servers.length === 0) throw new KeisanError('INVALID_INPUT', `'${serverUrl}' names no server: write it like http://keisan1:8470 or http://keisan1:8470,http://keisan2:8470`);
  serverUrl = useServerSet(servers);
  let nodeSecret = process.env.KEISAN_NODE_SECRET;
  if (!nodeSecret) {
    if (!existsSync(`${dataDir}/node-secret`)) {
      throw new KeisanError('NOT_FOUND', `no node secret: set KEISAN_NODE_SECRET or copy the server's node-secret file into ${dataDir}`);
    }
    nodeSecret = readNodeSecret(dataDir);
  }
  return { serverUrl: serverUrl.replace(/\/$/, ''), nodeSecret };
}
