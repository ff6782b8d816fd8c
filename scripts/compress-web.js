#!/usr/bin/env node
// After `vite build`: writes a brotli (.br) and gzip (.gz) copy beside every asset in web/dist/assets, which
// the server sends to browsers that accept them (@fastify/static preCompressed): the main bundle goes over
// the network at about a quarter of its size.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const assets = fileURLToPath(new URL('../web/dist/assets/', import.meta.url));
for (const name of readdirSync(assets)) {
  if (!/\.(js|css|svg|json)$/.test(name)) continue;
  const file = path.join(assets, name);
  const body = readFileSync(file);
  writeFileSync(`${file}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
}
