import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { expect } from 'chai';
import { ROUTES } from '../../lib/app.ts';
import { buildOpenApi } from '../../lib/http/openapi.ts';
import packageJson from '../../package.json' with { type: 'json' };

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = (formatsModule as unknown as { default: (ajv: Ajv2020) => void }).default;

type Schema = { $ref?: string; example?: unknown; examples?: unknown[] };
interface Doc {
  components: { schemas: Record<string, Schema> };
  paths: Record<
    string,
    Record<string, { operationId: string; requestBody?: { content: Record<string, { schema: Schema }> } }>
  >;
}

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

describe('the examples of /openapi.json', () => {
  const doc = buildOpenApi(ROUTES, packageJson.version) as unknown as Doc;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, 'openapi.json');

  /** Every schema that must carry an example: the components and the inline JSON request bodies. */
  const schemas = (): { where: string; ref: string; schema: Schema }[] => [
    ...Object.entries(doc.components.schemas).map(([name, schema]) => ({
      where: `components.schemas.${name}`,
      ref: `openapi.json#/${pointer('components', 'schemas', name)}`,
      schema,
    })),
    ...Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).flatMap(([method, op]) => {
        const schema = op.requestBody?.content['application/json']?.schema;
        if (!schema || schema.$ref) return [];
        const at = pointer('paths', path, method, 'requestBody', 'content', 'application/json', 'schema');
        return [{ where: `${op.operationId} request body`, ref: `openapi.json#/${at}`, schema }];
      }),
    ),
  ];

  it('gives every schema an example (lib/http/examples.ts, or its own)', () => {
    const missing = schemas()
      .filter(({ schema }) => schema.example === undefined && !schema.examples?.length)
      .map(({ where }) => where);
    expect(missing, 'add these to lib/http/examples.ts').to.deep.equal([]);
  });

  it('has examples that validate against their schemas', () => {
    const invalid: string[] = [];
    for (const { where, ref, schema } of schemas()) {
      const validate = ajv.compile({ $ref: ref });
      for (const example of [
        ...(schema.examples ?? []),
        ...(schema.example === undefined ? [] : [schema.example]),
      ]) {
        if (!validate(example)) invalid.push(`${where}: ${ajv.errorsText(validate.errors)}`);
      }
    }
    expect(invalid).to.deep.equal([]);
  });

  it('fails an example that does not match (the check can fail)', () => {
    const validate = ajv.compile({ $ref: 'openapi.json#/components/schemas/User' });
    expect(validate({ id: 7, username: 'ann' })).to.equal(false);
  });
});
