export interface NxBuildResult {
  ok: boolean;
  /** Nx's stdout and stderr, interleaved as they came. */
  output: string;
  ms: number;
}
export function nxBuild(root: string, projects: string[], env?: NodeJS.ProcessEnv, signal?: AbortSignal): Promise<NxBuildResult>;
export function nxBuildSync(root: string, projects: string[], env?: NodeJS.ProcessEnv): NxBuildResult;
export function nxBuildCommand(projects: string[]): string;
export function nxBuildEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
