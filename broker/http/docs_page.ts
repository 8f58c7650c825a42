/**
 * `/docs`: the OpenAPI document rendered as one self-contained HTML page on the server. No
 * script and no CDN (the network may be closed): every operation with its parameters, body
 * and responses, then every schema with its fields, ranges and defaults.
 *
 * @module
 */

// The parts of an OpenAPI 3.1 document this page reads; everything is optional on purpose.
interface SchemaObject {
  $ref?: string;
  type?: string | string[];
  description?: string;
  properties?: Record<string, SchemaObject>;
  required?: string[];
  items?: SchemaObject;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  pattern?: string;
  anyOf?: SchemaObject[];
  oneOf?: SchemaObject[];
  additionalProperties?: boolean | SchemaObject;
}

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  parameters?: { name: string; in: string; required?: boolean; schema?: SchemaObject }[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: SchemaObject }> };
  responses?: Record<
    string,
    { description?: string; content?: Record<string, { schema?: SchemaObject }> }
  >;
}

/** The shape of the document the page needs (an OpenAPI 3.1 document). */
export interface OpenApiDocumentLike {
  info: { title: string; version: string; description?: string };
  paths?: object;
  components?: { schemas?: object };
}

const methodOrder = ["get", "put", "post", "patch", "delete"];

/**
 * The HTML page of `document`.
 *
 * @example
 * ```ts
 * const html = renderDocsPage(app.getOpenAPI31Document({ openapi: "3.1.0", info }));
 * ```
 */
export function renderDocsPage(document: OpenApiDocumentLike): string {
  const operations: string[] = [];
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation | undefined>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const method of methodOrder) {
      const operation = item[method];
      if (operation !== undefined) operations.push(renderOperation(method, path, operation));
    }
  }
  const schemaObjects = (document.components?.schemas ?? {}) as Record<string, SchemaObject>;
  const schemas = Object.entries(schemaObjects).map(([name, schema]) => renderSchema(name, schema));
  const title = `${document.info.title} ${document.info.version}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)} API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
code,.path{font-family:ui-monospace,monospace}
.op{border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.6em 1em}
.method{display:inline-block;min-width:4.5em;font-weight:bold;text-transform:uppercase}
.get{color:#0a6}.put{color:#a60}.post{color:#06a}.patch{color:#a0a}.delete{color:#c22}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #e4e4e4;padding:2px 8px;text-align:left;vertical-align:top}
h3{margin:.2em 0}
</style></head><body>
<h1>${escape(title)}</h1>
<p>${escape(document.info.description ?? "")} The machine-readable document is
<a href="/openapi.json"><code>/openapi.json</code></a>.</p>
<h2>Operations</h2>
${operations.join("\n")}
<h2>Schemas</h2>
${schemas.join("\n")}
</body></html>
`;
}

function renderOperation(method: string, path: string, operation: Operation): string {
  const parts = [
    `<div class="op" id="${escape(operation.operationId ?? `${method} ${path}`)}">`,
    `<h3><span class="method ${method}">${method}</span> <span class="path">${
      escape(path)
    }</span></h3>`,
    `<p>${escape(operation.summary ?? "")}</p>`,
  ];
  const parameters = operation.parameters ?? [];
  if (parameters.length > 0) {
    const rows = parameters.map((parameter) =>
      `<tr><td><code>${escape(parameter.name)}</code></td><td>${escape(parameter.in)}</td>` +
      `<td>${parameter.required ? "required" : "optional"}</td>` +
      `<td>${describe(parameter.schema ?? {})}</td></tr>`
    );
    parts.push(
      `<table><tr><th>parameter</th><th>in</th><th></th><th></th></tr>${rows.join("")}</table>`,
    );
  }
  const body = operation.requestBody?.content?.["application/json"]?.schema;
  if (body !== undefined) {
    const required = operation.requestBody?.required ? "required" : "optional";
    parts.push(`<p>Body (${required}): ${describe(body)}</p>`);
  }
  const responses = Object.entries(operation.responses ?? {}).map(([status, response]) => {
    const schema = Object.values(response.content ?? {})[0]?.schema;
    const shape = schema === undefined ? "" : ` ${describe(schema)}`;
    return `<tr><td>${escape(status)}</td><td>${
      escape(response.description ?? "")
    }${shape}</td></tr>`;
  });
  parts.push(`<table><tr><th>status</th><th>response</th></tr>${responses.join("")}</table></div>`);
  return parts.join("\n");
}

function renderSchema(name: string, schema: SchemaObject): string {
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties ?? {}).map(([field, property]) =>
    `<tr><td><code>${escape(field)}</code></td><td>${required.has(field) ? "required" : ""}</td>` +
    `<td>${describe(property)}</td><td>${escape(property.description ?? "")}</td></tr>`
  );
  const table = rows.length === 0
    ? `<p>${describe(schema)}</p>`
    : `<table><tr><th>field</th><th></th><th>type</th><th></th></tr>${rows.join("")}</table>`;
  return `<h3 id="schema-${escape(name)}">${escape(name)}</h3>\n` +
    `<p>${escape(schema.description ?? "")}</p>\n${table}`;
}

/** A one-line description of a schema: type, ranges, default, links to named schemas. */
function describe(schema: SchemaObject): string {
  if (schema.$ref !== undefined) {
    const name = schema.$ref.split("/").pop() ?? schema.$ref;
    return `<a href="#schema-${escape(name)}">${escape(name)}</a>`;
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) return alternatives.map(describe).join(" or ");
  const type = Array.isArray(schema.type) ? schema.type.join(" or ") : schema.type ?? "any";
  let text = escape(type);
  if (schema.items !== undefined) text = `array of ${describe(schema.items)}`;
  const constraints: string[] = [];
  if (schema.enum !== undefined) {
    constraints.push(`one of ${schema.enum.map((v) => JSON.stringify(v)).join(", ")}`);
  }
  range(constraints, schema.minimum, schema.maximum, "");
  range(constraints, schema.minLength, schema.maxLength, " chars");
  range(constraints, schema.minItems, schema.maxItems, " entries");
  if (schema.pattern !== undefined) constraints.push(`pattern ${schema.pattern}`);
  if (schema.default !== undefined) constraints.push(`default ${JSON.stringify(schema.default)}`);
  if (constraints.length > 0) text += ` <small>(${escape(constraints.join("; "))})</small>`;
  return text;
}

function range(into: string[], min: number | undefined, max: number | undefined, unit: string) {
  if (min !== undefined && max !== undefined) into.push(`${min}–${max}${unit}`);
  else if (min !== undefined) into.push(`≥ ${min}${unit}`);
  else if (max !== undefined) into.push(`≤ ${max}${unit}`);
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}
