/**
 * The local servers in a process of their own, for send.bench.ts: prints their env as one JSON
 * line, then serves until stdin closes (the bench's CPU figures then hold the client side only).
 */
import { startLocalServers } from '@rydes/local-aws';

async function main(): Promise<void> {
  const local = await startLocalServers();
  process.stdout.write(JSON.stringify(local.env) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => void local.close().then(() => process.exit(0)));
}

void main();
