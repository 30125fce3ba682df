/**
 * Prints the Nx project graph as a Mermaid flowchart (for docs/architecture.md): one node per
 * project labelled with its tags, a solid arrow per import, a dashed one per implicit dependency
 * (a project that runs or deploys another's built bundle).
 *
 *   npx nx graph --file=dist/graph.json && npx tsx tools/graph-mermaid.ts --file dist/graph.json
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Graph {
  graph: {
    nodes: Record<string, { data: { tags?: string[] } }>;
    dependencies: Record<string, Array<{ target: string; type: string }>>;
  };
}

/** The flowchart text; projects and edges sorted so the same graph prints the same bytes. */
export function mermaid({ graph }: Graph): string {
  const id = (name: string) => name.replace(/[^A-Za-z0-9]/g, '_');
  const lines = ['flowchart TD'];
  for (const name of Object.keys(graph.nodes).sort()) {
    const tags = (graph.nodes[name].data.tags ?? []).join(' ');
    lines.push(`  ${id(name)}["${name}<br/><small>${tags}</small>"]`);
  }
  for (const source of Object.keys(graph.dependencies).sort()) {
    const edges = graph.dependencies[source].filter((d) => d.target in graph.nodes);
    for (const { target, type } of [...edges].sort((a, b) => a.target.localeCompare(b.target))) {
      lines.push(`  ${id(source)} ${type === 'implicit' ? '-. runs .->' : '-->'} ${id(target)}`);
    }
  }
  return lines.join('\n');
}

if (require.main === module) {
  const { values } = parseArgs({ options: { file: { type: 'string', default: 'dist/graph.json' } } });
  console.log(mermaid(JSON.parse(readFileSync(values.file, 'utf8')) as Graph));
}
