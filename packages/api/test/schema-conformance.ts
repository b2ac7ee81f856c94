// Whether an answer is what the OpenAPI document says it is: the part of OpenAPI 3.0's schema
// language the document uses (types, nullable, enum, properties, required, additionalProperties,
// items, anyOf). Returns every mismatch with its path, so a test can expect [].
type Schema = {
  type?: string;
  nullable?: boolean;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
};

export function mismatches(schema: Schema, value: unknown, path = '$'): string[] {
  if (value === null) return schema.nullable || schema.anyOf?.some((s) => s.nullable) ? [] : [`${path} is null`];
  if (schema.anyOf) {
    return schema.anyOf.some((option) => mismatches(option, value, path).length === 0)
      ? []
      : [`${path} matches none of anyOf`];
  }
  if (schema.enum && !schema.enum.includes(value)) return [`${path} is ${JSON.stringify(value)}, not in enum`];
  const found: string[] = [];
  switch (schema.type) {
    case undefined:
      return [];
    case 'integer':
      return Number.isInteger(value) ? [] : [`${path} is not an integer`];
    case 'number':
    case 'string':
    case 'boolean':
      return typeof value === schema.type ? [] : [`${path} is not a ${schema.type}`];
    case 'array':
      if (!Array.isArray(value)) return [`${path} is not an array`];
      for (const [i, item] of value.entries()) found.push(...mismatches(schema.items ?? {}, item, `${path}[${i}]`));
      return found;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) return [`${path} is not an object`];
      const record = value as Record<string, unknown>;
      for (const key of schema.required ?? []) if (!(key in record)) found.push(`${path}.${key} is missing`);
      for (const [key, item] of Object.entries(record)) {
        const property = schema.properties?.[key];
        if (property) found.push(...mismatches(property, item, `${path}.${key}`));
        else if (schema.additionalProperties === false) found.push(`${path}.${key} is not documented`);
        else if (typeof schema.additionalProperties === 'object') {
          found.push(...mismatches(schema.additionalProperties, item, `${path}.${key}`));
        }
      }
      return found;
    }
    default:
      return [`${path}: schema type ${schema.type} is not understood here`];
  }
}
