// Form fields built from a JSON Schema (pydantic's), and server errors shown next to them.
// The server is the one place that validates: the form sends what was typed and shows the 422.
// Shared by the launch and sweep forms (runs page) and the attach form (run page).
import { api, ApiError } from "./api.js";
import { el, replaceChildren } from "./dom.js";

let fieldCounter = 0;

function resolve(schema, root) {
  if (!schema) return {};
  if (schema.$ref) {
    const name = schema.$ref.split("/").pop();
    const target = (root.$defs || root.definitions || {})[name] || {};
    return { ...target, ...schema, $ref: undefined };
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length === 1) {
    return { ...resolve(schema.allOf[0], root), ...schema, allOf: undefined };
  }
  return schema;
}

/** The field's schema without a null branch, and whether null is allowed. */
function unwrapNullable(schema, root) {
  const resolved = resolve(schema, root);
  const branches = resolved.anyOf || resolved.oneOf;
  if (!Array.isArray(branches)) return { schema: resolved, nullable: false };
  const nonNull = branches.filter((b) => b.type !== "null");
  const merged = { ...resolved, ...resolve(nonNull[0], root), anyOf: undefined, oneOf: undefined };
  merged.title = resolved.title ?? merged.title;
  merged.description = resolved.description ?? merged.description;
  return { schema: merged, nullable: nonNull.length < branches.length };
}

function kindOf(schema) {
  if (Array.isArray(schema.enum)) return "enum";
  if (schema.const !== undefined) return "enum";
  if (schema.type === "array") return "array";
  if (["integer", "number", "boolean", "string"].includes(schema.type)) return schema.type;
  return "json";
}

/** "1 – 100, default 3" style hint from the schema's bounds and default. */
export function boundsHint(schema) {
  const parts = [];
  const lo = schema.minimum ?? schema.exclusiveMinimum;
  const hi = schema.maximum ?? schema.exclusiveMaximum;
  const inclusive = schema.exclusiveMinimum === undefined && schema.exclusiveMaximum === undefined;
  if (lo !== undefined && hi !== undefined && inclusive) parts.push(`${lo} to ${hi}`);
  else {
    if (lo !== undefined) parts.push(`${schema.exclusiveMinimum !== undefined ? ">" : "≥"} ${lo}`);
    if (hi !== undefined) parts.push(`${schema.exclusiveMaximum !== undefined ? "<" : "≤"} ${hi}`);
  }
  if (schema.minLength) parts.push(`at least ${schema.minLength} characters`);
  if (schema.type === "array") parts.push("comma-separated");
  if (schema.default !== undefined && schema.default !== null) {
    const text = Array.isArray(schema.default) ? schema.default.join(", ") : schema.default;
    parts.push(`default ${text}`);
  }
  return parts.length ? `(${parts.join(", ")})` : "";
}

function buildInput(kind, schema, id) {
  if (kind === "boolean") {
    return el("input", { type: "checkbox", id, checked: schema.default === true });
  }
  if (kind === "enum") {
    const options = schema.enum ?? [schema.const];
    const select = el("select", { id });
    for (const option of options) {
      select.append(el("option", { value: JSON.stringify(option) }, String(option)));
    }
    if (schema.default !== undefined) select.value = JSON.stringify(schema.default);
    return select;
  }
  if (kind === "json") {
    const value = schema.default === undefined ? "" : JSON.stringify(schema.default);
    return el("textarea", { id, rows: 2, spellcheck: false }, value);
  }
  const input = el("input", { id, autocomplete: "off" });
  if (kind === "integer" || kind === "number") {
    input.type = "number";
    input.step = kind === "integer" ? "1" : "any";
    input.inputMode = kind === "integer" ? "numeric" : "decimal";
    if (schema.minimum !== undefined) input.min = schema.minimum;
    if (schema.maximum !== undefined) input.max = schema.maximum;
  } else {
    input.type = "text";
  }
  const dflt = schema.default;
  if (dflt !== undefined && dflt !== null) {
    input.value = Array.isArray(dflt) ? dflt.join(", ") : String(dflt);
  }
  return input;
}

function parseScalar(text, type) {
  if (type === "integer" || type === "number") {
    const number = Number(text);
    return text.trim() !== "" && Number.isFinite(number) ? number : text; // the server names it
  }
  return text;
}

function readValue(kind, schema, input, nullable) {
  if (kind === "boolean") return input.checked;
  if (kind === "enum") return JSON.parse(input.value);
  const text = input.value;
  if (text.trim() === "") return nullable ? null : undefined; // undefined: the default applies
  if (kind === "array") {
    const itemType = resolve(schema.items || {}, {}).type;
    return text.split(",").map((part) => parseScalar(part.trim(), itemType));
  }
  if (kind === "json") {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return parseScalar(text, kind);
}

function buildField(name, rawSchema, root, path, required) {
  const { schema, nullable } = unwrapNullable(rawSchema, root);
  const kind = kindOf(schema);
  const id = `field-${++fieldCounter}`;
  const input = buildInput(kind, schema, id);
  input.name = path;
  const helpText = [schema.description, boundsHint(schema)].filter(Boolean).join(" ");
  const help = el("p", { class: "help", id: `${id}-help` }, helpText);
  const error = el("p", { class: "field-error", id: `${id}-error`, hidden: true });
  input.setAttribute("aria-describedby", `${id}-help ${id}-error`);
  if (required) input.required = true;
  // The parameter's own name is what people write in code and see in the config and errors.
  const label = el("label", { for: id }, name);
  const wrapper = el("div", { class: `field field-${kind}`, "data-path": path });
  if (kind === "boolean") wrapper.append(el("div", { class: "check" }, input, label));
  else wrapper.append(label, input);
  wrapper.append(help, error);
  return { name, wrapper, read: () => readValue(kind, schema, input, nullable) };
}

/**
 * Append one field per property of `schema` to `container`; each field's data-path is
 * `${pathPrefix}${name}`. Returns collect(), which gives the values typed (defaults omitted
 * when left empty, so the server applies them).
 */
export function buildSchemaFields(container, schema, pathPrefix = "") {
  const root = schema || {};
  const required = new Set(root.required || []);
  const fields = Object.entries(root.properties || {}).map(([name, prop]) =>
    buildField(name, prop, root, `${pathPrefix}${name}`, required.has(name)),
  );
  for (const field of fields) container.append(field.wrapper);
  return {
    collect() {
      const values = {};
      for (const field of fields) {
        const value = field.read();
        if (value !== undefined) values[field.name] = value;
      }
      return values;
    },
  };
}

/**
 * Fill a <select> with catalog entries (GET /api/recipes or /api/callbacks: each has `name`
 * and `description`), each option's title its description.
 */
export function fillSelect(select, entries, { placeholder } = {}) {
  const options = entries.map((e) =>
    el("option", { value: e.name, title: e.description || "" }, e.name),
  );
  if (placeholder) options.unshift(el("option", { value: "" }, placeholder));
  replaceChildren(select, options);
}

/** Remove every error shown in `form`. */
export function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
  const general = form.querySelector("[data-form-error]");
  if (general) {
    general.hidden = true;
    general.textContent = "";
  }
}

function fieldFor(form, loc) {
  const parts = loc.filter((p, i) => !(i === 0 && (p === "body" || p === "query")));
  for (let n = parts.length; n > 0; n--) {
    const path = parts.slice(0, n).join(".");
    const found = form.querySelector(`[data-path="${CSS.escape(path)}"]`);
    if (found) return found;
  }
  return null;
}

/**
 * Show an ApiError in `form`: each validation error next to the field its `loc` names, the
 * rest in the form's [data-form-error] box. Focuses the first field in error.
 */
export function showErrors(form, error) {
  clearErrors(form);
  const general = [];
  let first = null;
  for (const item of error.fieldErrors) {
    const field = fieldFor(form, item.loc);
    if (!field) {
      general.push(`${item.loc.filter((p) => p !== "body").join(".")}: ${item.msg}`);
      continue;
    }
    const slot = field.querySelector(".field-error");
    slot.textContent = slot.textContent ? `${slot.textContent} ${item.msg}` : item.msg;
    slot.hidden = false;
    const input = field.querySelector("input, select, textarea");
    input?.setAttribute("aria-invalid", "true");
    first = first || input;
  }
  if (!error.fieldErrors.length) general.push(error.message);
  const box = form.querySelector("[data-form-error]");
  if (box && general.length) {
    box.textContent = general.join(" ");
    box.hidden = false;
  }
  (first || box)?.focus?.();
}

/**
 * The launch and sweep forms' submit: POST `body()` to `path` with `button` disabled, then go
 * to `pageUrl(created.id)`; a refusal (an ApiError: 422, 409...) is shown in `form` and the
 * button enabled again, so the person can correct it and send again.
 */
export async function submitForm(event, { form, button, path, body, pageUrl }) {
  event.preventDefault();
  clearErrors(form);
  button.disabled = true;
  try {
    const created = await api(path, { method: "POST", body: body() });
    window.location.assign(pageUrl(created.id));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    showErrors(form, err);
    button.disabled = false;
  }
}
