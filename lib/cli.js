#!/usr/bin/env node
// The `parley` command: `parley` serves, `parley migrate` updates the schema. Registers tsx so the
// TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
const command = process.argv[2] ?? 'serve';
if (command === 'migrate') await import('./migrate.ts');
else if (command === 'serve') await (await import('./server.ts')).main();
else {
  console.error('usage: parley [serve|migrate]');
  process.exit(2);
}
