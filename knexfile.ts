// Configuration for the knex CLI, built from the same settings as the server:
//   npx tsx node_modules/knex/bin/cli.js --knexfile knexfile.ts migrate:status
import { loadConfig } from './lib/config.ts';
import { knexConfig } from './lib/dialects/index.ts';

export default knexConfig(loadConfig().database);
