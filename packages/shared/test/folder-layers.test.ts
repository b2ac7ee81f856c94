// The folders of packages/shared/src form layers: no folder imports from a folder that imports
// from it, directly or through others. (madge checks loops between files; a loop between folders
// is a concept leaking through a wall — keys for webhooks kept under jobs/, a registry importing
// what registers with it — even when no two files import each other.)
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

/** Each top-level folder of src (a file at the top is a layer of its own) and the layers it imports. */
function folderImports(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const layerOf = (file: string) => path.relative(SRC, file).split(path.sep)[0] as string;
  for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = path.join(entry.parentPath, entry.name);
    const from = layerOf(file);
    const imports = graph.get(from) ?? new Set<string>();
    graph.set(from, imports);
    for (const [, spec] of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const to = layerOf(path.resolve(path.dirname(file), spec as string).replace(/\.js$/, '.ts'));
      if (to !== from && !to.startsWith('..')) imports.add(to);
    }
  }
  return graph;
}

/** Every loop in the graph, each as the path that closes it (a → b → a). */
function loops(graph: Map<string, Set<string>>): string[] {
  const found: string[] = [];
  const visit = (node: string, trail: string[]) => {
    for (const next of graph.get(node) ?? []) {
      const at = trail.indexOf(next);
      if (at >= 0) found.push([...trail.slice(at), next].join(' → '));
      else visit(next, [...trail, next]);
    }
  };
  for (const start of graph.keys()) visit(start, [start]);
  return [...new Set(found)];
}

describe("packages/shared/src's folders", () => {
  it('import one another without a loop', () => {
    const graph = folderImports();
    // The check sees the folders it should (an empty graph would pass vacuously).
    expect([...graph.keys()]).toEqual(expect.arrayContaining(['jobs', 'redis', 'webhooks', 'storage', 'config']));
    expect(graph.get('jobs')).toContain('redis');
    expect(loops(graph)).toEqual([]);
  });

  it('finds a loop when there is one', () => {
    const graph = new Map([
      ['jobs', new Set(['redis'])],
      ['redis', new Set(['keys'])],
      ['keys', new Set(['jobs'])],
      ['config', new Set(['jobs'])],
    ]);
    expect(loops(graph)).toContain('jobs → redis → keys → jobs');
  });
});
