// Prebuilt bundles of the small daemons (the agent and the watchdog), so they run on every node without
// the tsx loader (about 30 MiB of memory) and without loading the rest of Keisan. The bundle is
// built with esbuild on first use, next to its sources (so paths relative to import.meta.url stay
// right), and rebuilt whenever one of its input files changed. Any failure falls back to tsx.
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** The bundle's URL if it is fresh or could be built now; null to fall back to tsx. */
export async function daemonBundle(name, entry) {
  const out = path.join(REPO, path.dirname(entry), `.${name}-bundle.mjs`);
  const manifest = `${out}.inputs.json`;
  try {
    if (fresh(out, manifest)) return pathToFileURL(out).href;
    const esbuild = await import('esbuild');
    const temp = `${out}.${process.pid}.tmp`;
    // Its service process would otherwise live as long as the daemon (~28 MiB beside the watchdog).
    const result = await esbuild.build({
      entryPoints: [path.join(REPO, entry)],
      outfile: temp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      metafile: true,
      logLevel: 'silent',
    }).finally(() => esbuild.stop());
    const inputs = Object.keys(result.metafile.inputs).map((input) => path.resolve(REPO, input));
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(`${manifest}.${process.pid}.tmp`, JSON.stringify({ builtAt: Date.now(), inputs }));
    renameSync(temp, out);
    renameSync(`${manifest}.${process.pid}.tmp`, manifest);
    return pathToFileURL(out).href;
  } catch {
    return null;
  }
}

function fresh(out, manifest) {
  try {
    const { builtAt, inputs } = JSON.parse(readFileSync(manifest, 'utf8'));
    statSync(out);
    return inputs.every((input) => statSync(input).mtimeMs < builtAt);
  } catch {
    return false;
  }
}
