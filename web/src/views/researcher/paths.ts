import type { User } from '../../auth.tsx';

/** The storage namespace: `/<workgroup>/<subgroup>/…`; a user starts in their primary subgroup's directory. */
export function homeDirectory(user: Pick<User, 'workgroup' | 'primarySubgroup'>): string {
  return `/${user.workgroup}/${user.primarySubgroup}`;
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}

/** `/a/b/c` → [['/', '/'], ['a', '/a'], ['b', '/a/b'], ['c', '/a/b/c']]. */
export function breadcrumbs(path: string): { name: string; path: string }[] {
  const parts = path.split('/').filter(Boolean);
  return [{ name: '/', path: '/' }, ...parts.map((name, i) => ({ name, path: `/${parts.slice(0, i + 1).join('/')}` }))];
}
