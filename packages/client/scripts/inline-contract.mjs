// Makes the built client self-contained, so that the published package has no dependencies: the two
// modules that take from @renderq/contract are replaced in dist/ by what they take.
// - dist/contract.d.ts: the contract's types written out (each zod-inferred type expanded into the
//   object it is, with its doc comments and zod descriptions), instead of re-exports of zod types.
// - dist/webhook-secret.{js,d.ts} and dist/statuses.{js,d.ts}: the contract's compiled webhook secret
//   rule and signature, and its job statuses (plain TypeScript, no zod).
// Afterwards no file in dist/ may name @renderq/contract or zod; the script fails if one does.
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const CLIENT = fileURLToPath(new URL('..', import.meta.url));
const DIST = path.join(CLIENT, 'dist');
const require = createRequire(path.join(CLIENT, 'package.json'));
const CONTRACT_DIST = path.dirname(require.resolve('@renderq/contract/package.json'));
// Its schemas, for the descriptions they carry (the OpenAPI document's), written as doc comments.
const contract = await import(pathToFileURL(path.join(CONTRACT_DIST, 'dist/index.js')).href);

for (const file of ['webhook-secret.js', 'webhook-secret.d.ts', 'statuses.js', 'statuses.d.ts']) {
  copyFileSync(path.join(CONTRACT_DIST, 'dist', file), path.join(DIST, file));
}
writeFileSync(path.join(DIST, 'contract.d.ts'), writtenOutTypes(path.join(CLIENT, 'src/contract.ts')));

const leaks = readdirSync(DIST).filter((file) =>
  /(from|import)\s*\(?\s*['"](@renderq\/contract|zod)/.test(readFileSync(path.join(DIST, file), 'utf8')),
);
if (leaks.length > 0) throw new Error(`dist/ still imports @renderq/contract or zod: ${leaks.join(', ')}`);

/** The declarations of every type `entry` re-exports, written out without imports. */
function writtenOutTypes(entry) {
  const program = ts.createProgram([entry], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2023,
    strict: true,
    types: [],
    noEmit: true,
  });
  const checker = program.getTypeChecker();
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(entry)));
  const names = new Map(exported.map((symbol) => [checker.getDeclaredTypeOfSymbol(aliased(symbol)), symbol.name]));
  const declarations = exported.map((symbol) => {
    const type = checker.getDeclaredTypeOfSymbol(aliased(symbol));
    const schema = contract[symbol.name];
    const doc = docOf(aliased(symbol), schema);
    return `${comment(doc, '')}export type ${symbol.name} = ${written(type, '', schema, true)};\n`;
  });
  return `// The API's shapes as @renderq/contract defines them, written out (scripts/inline-contract.mjs).\n${declarations.join('\n')}`;

  function aliased(symbol) {
    return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
  }

  /**
   * The exported type `type` is, when it is one: the same type, or one each is assignable to with the
   * same properties (a record such as `metadata` and an object of optional fields are assignable both ways).
   */
  function nameOf(type) {
    if (names.has(type)) return names.get(type);
    const count = checker.getPropertiesOfType(type).length;
    for (const [named, name] of names) {
      if (checker.getPropertiesOfType(named).length !== count) continue;
      if (checker.isTypeAssignableTo(type, named) && checker.isTypeAssignableTo(named, type)) return name;
    }
    return undefined;
  }

  function written(type, indent, schema, top = false) {
    const name = top ? undefined : nameOf(type);
    if (name) return name;
    const options = unwrapped(schema)?.def?.type === 'enum' ? unwrapped(schema).options : undefined;
    if (options) return options.map((option) => `'${option}'`).join(' | ');
    if (type.isUnion()) {
      // In the order written, null last, `true | false` as boolean.
      const empty = type.types.filter((member) => member.flags & (ts.TypeFlags.Null | ts.TypeFlags.Undefined));
      const members = type.types.filter(
        (member) => !(member.flags & ts.TypeFlags.BooleanLiteral) && !empty.includes(member),
      );
      const parts = members.map((member) => written(member, indent, undefined));
      if (members.length + empty.length < type.types.length) parts.push('boolean');
      parts.push(...empty.map((member) => checker.typeToString(member)));
      return parts.join(' | ');
    }
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(type);
      const inner = written(element, indent, unwrapped(schema)?.element);
      return element.isUnion() ? `(${inner})[]` : `${inner}[]`;
    }
    const properties = checker.getPropertiesOfType(type);
    if (type.flags & ts.TypeFlags.Object && properties.length > 0 && type.getCallSignatures().length === 0) {
      const shape = unwrapped(schema)?.shape;
      const lines = properties.map((property) => {
        const optional = (property.flags & ts.SymbolFlags.Optional) !== 0;
        let propertyType = checker.getTypeOfSymbol(property);
        if (optional) propertyType = checker.getNonNullableType(propertyType);
        const propertySchema = shape?.[property.name];
        const doc = docOf(property, propertySchema);
        const value = written(propertyType, `${indent}  `, propertySchema);
        return `${comment(doc, `${indent}  `)}${indent}  ${property.name}${optional ? '?' : ''}: ${value};`;
      });
      return `{\n${lines.join('\n')}\n${indent}}`;
    }
    return checker.typeToString(
      type,
      undefined,
      ts.TypeFormatFlags.NoTruncation | ts.TypeFormatFlags.UseSingleQuotesForStringLiteralType,
    );
  }

  /** A symbol's doc comment, or else its zod schema's description. */
  function docOf(symbol, schema) {
    const doc = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
    return doc || schema?.description || '';
  }
}

/** The schema inside nullable and optional wrappers. */
function unwrapped(schema) {
  let inner = schema;
  while (inner?.def && (inner.def.type === 'nullable' || inner.def.type === 'optional')) inner = inner.unwrap();
  return inner;
}

function comment(doc, indent) {
  if (!doc) return '';
  const lines = doc.split('\n');
  if (lines.length === 1 && doc.length + indent.length < 110) return `${indent}/** ${doc} */\n`;
  return `${indent}/**\n${lines.map((line) => `${indent} * ${line}`.trimEnd()).join('\n')}\n${indent} */\n`;
}
