#!/usr/bin/env node
// The `parley` command: `parley` serves, `parley migrate` updates the schema. Registers tsx so the
// TypeScript sources run as they are.
import { register } from 'tsx/esm/api';

register();
const command = process.argv[2] ?? 'serve';
if (command === 'migrate') await import('./migrate.ts');
else if (command === 'serve') await (await import('./server.ts')).main();
else if (command === '--version' || command === '-v') console.log(await version());
else if (command === '--help' || command === '-h' || command === 'help') console.log(await help());
else {
  console.error(`parley: unknown command "${command}"\n\n${await help()}`);
  process.exit(2);
}

async function version() {
  const { default: pkg } = await import('../package.json', { with: { type: 'json' } });
  return pkg.version;
}

/** Commands, then every setting with its default, read from lib/config.ts (the one source). */
async function help() {
  const { describeSettings } = await import('./config.ts');
  const rows = describeSettings().map(({ name, default: def, values }) => {
    const shown = def === undefined ? '(unset)' : def === '' ? '(empty)' : String(def);
    return `  ${name.padEnd(30)} ${shown}${values ? `  [${values.join('|')}]` : ''}`;
  });
  return [
    `parley ${await version()}: a chat server (REST, SSE and long-poll)`,
    '',
    'Usage: parley [command]',
    '',
    'Commands:',
    '  serve          start the server (the default)',
    '  migrate        bring the database schema up to date, then exit',
    '  --help, -h     this help',
    '  --version, -v  the version',
    '',
    'Settings (environment variables, with their defaults; see the README):',
    ...rows,
  ].join('\n');
}
