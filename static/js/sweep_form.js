// The sweep form (runs page): each of a recipe's parameters is fixed, or searched over a
// range or a list of choices; built from the recipe's JSON Schema like the launch form. The
// server checks the space against the recipe's bounds and answers a 422 naming the param.
import { api } from "./api.js";
import { el, replaceChildren } from "./dom.js";
import { boundsHint, fillSelect, submitForm } from "./schema_form.js";
import { sweepPageUrl } from "./urls.js";

/** The parameters a form row can search: numbers, integers and enums. */
function searchable(schema) {
  if (schema.type === "number" || schema.type === "integer") return schema.type;
  if (Array.isArray(schema.enum)) return "enum";
  return null;
}

/** Starting bounds for a range: the default divided and multiplied by 10, within the schema. */
function startRange(schema) {
  const lo = schema.minimum ?? schema.exclusiveMinimum;
  const hi = schema.maximum ?? schema.exclusiveMaximum;
  const base = Number(schema.default ?? 1) || 1;
  let low = base / 10;
  let high = base * 10;
  if (schema.type === "integer") [low, high] = [Math.max(1, Math.round(base / 4)), Math.round(base * 4)];
  if (lo !== undefined && low <= lo) low = schema.exclusiveMinimum !== undefined ? base / 10 : lo;
  if (hi !== undefined && high > hi) high = hi;
  return [low, high];
}

function parseChoice(text, kind) {
  const value = text.trim();
  if (kind === "enum") return value;
  const number = Number(value);
  return value !== "" && Number.isFinite(number) ? number : value;
}

class ParamRow {
  constructor(name, schema, kind) {
    this.name = name;
    this.kind = kind;
    const id = `sweep-param-${name}`;
    this.mode = el("select", { id: `${id}-mode`, "aria-label": `${name}: fixed or searched` });
    const modes = kind === "enum" ? ["fixed", "choices"] : ["fixed", "range", "choices"];
    for (const mode of modes) this.mode.append(el("option", { value: mode }, mode));
    const [low, high] = kind === "enum" ? [null, null] : startRange(schema);
    this.low = el("input", { type: "number", step: "any", value: String(low), "aria-label": `${name} low` });
    this.high = el("input", { type: "number", step: "any", value: String(high), "aria-label": `${name} high` });
    this.log = el("input", { type: "checkbox", "aria-label": `${name} on a log scale` });
    this.log.checked = kind === "number";
    this.choices = el("input", {
      type: "text",
      "aria-label": `${name} choices`,
      value: (schema.enum || [schema.default]).join(", "),
    });
    this.range = el(
      "span",
      { class: "sweep-range" },
      this.low,
      el("span", { "aria-hidden": "true" }, "to"),
      this.high,
      el("label", { class: "inline-check" }, this.log, "log"),
    );
    this.node = el(
      "div",
      { class: "field sweep-param", "data-path": `space.${name}`, "data-param": name },
      el("label", { for: this.mode.id }, `${name} `, el("span", { class: "help" }, boundsHint(schema))),
      el("div", { class: "inline" }, this.mode, this.range, this.choices),
      el("p", { class: "field-error", hidden: true }),
    );
    this.mode.addEventListener("change", () => this.show());
    this.show();
  }

  show() {
    this.range.hidden = this.mode.value !== "range";
    this.choices.hidden = this.mode.value !== "choices";
  }

  /** This param's entry in `space`, or null when it is fixed (the recipe's default). */
  searched() {
    if (this.mode.value === "range") {
      return {
        type: this.kind === "integer" ? "int" : "float",
        low: Number(this.low.value),
        high: Number(this.high.value),
        log: this.log.checked,
      };
    }
    if (this.mode.value === "choices") {
      const parts = this.choices.value.split(",").filter((part) => part.trim() !== "");
      return { type: "categorical", choices: parts.map((part) => parseChoice(part, this.kind)) };
    }
    return null;
  }
}

export class SweepForm {
  constructor(form) {
    this.form = form;
    this.recipeSelect = form.querySelector("#sweep-recipe");
    this.paramsBox = form.querySelector("#sweep-params");
    this.objective = form.querySelector("#sweep-objective");
    this.direction = form.querySelector("#sweep-direction");
    this.submit = form.querySelector("#sweep-submit");
    this.recipes = [];
    this.rows = [];
  }

  async load() {
    this.recipes = await api("/api/recipes");
    fillSelect(this.recipeSelect, this.recipes);
    const preferred = this.recipes.find((r) => r.default === true);
    if (preferred) this.recipeSelect.value = preferred.name;
    this.recipeSelect.addEventListener("change", () => this.showRecipe());
    this.objective.addEventListener("change", () => {
      this.direction.value = this.objective.value.endsWith("loss") ? "min" : "max";
    });
    this.form.addEventListener("submit", (event) => this.send(event));
    this.showRecipe();
  }

  showRecipe() {
    const recipe = this.recipes.find((r) => r.name === this.recipeSelect.value);
    replaceChildren(this.paramsBox);
    this.rows = [];
    if (!recipe) return;
    for (const [name, schema] of Object.entries(recipe.params_schema.properties || {})) {
      const kind = searchable(schema);
      if (!kind) continue;
      const row = new ParamRow(name, schema, kind);
      this.rows.push(row);
      this.paramsBox.append(row.node);
    }
    const stats = ["loss", ...(recipe.metrics || [])];
    const objectives = ["valid", "train"].flatMap((phase) => stats.map((s) => `${phase}.${s}`));
    replaceChildren(this.objective, objectives.map((o) => el("option", { value: o }, o)));
    this.objective.value = recipe.metrics && recipe.metrics.length ? `valid.${recipe.metrics[0]}` : "valid.loss";
    this.direction.value = this.objective.value.endsWith("loss") ? "min" : "max";
  }

  body() {
    const value = (id) => this.form.querySelector(id).value;
    const space = {};
    for (const row of this.rows) {
      const searched = row.searched();
      if (searched) space[row.name] = searched;
    }
    const body = {
      recipe: this.recipeSelect.value,
      params: {},
      space,
      objective: this.objective.value,
      direction: this.direction.value,
      n_trials: Number(value("#sweep-trials")),
      parallel: Number(value("#sweep-parallel")),
      sampler: value("#sweep-sampler"),
      pruner: value("#sweep-pruner"),
    };
    const epochs = value("#sweep-epochs").trim();
    if (epochs && !space.epochs) body.params.epochs = Number(epochs);
    const name = value("#sweep-name").trim();
    if (name) body.name = name;
    return body;
  }

  send(event) {
    return submitForm(event, {
      form: this.form,
      button: this.submit,
      path: "/api/sweeps",
      body: () => this.body(),
      pageUrl: sweepPageUrl,
    });
  }
}

const form = document.querySelector("#sweep-form");
if (form) {
  new SweepForm(form).load().catch((err) => {
    const box = form.querySelector("[data-form-error]");
    box.textContent = `Could not load the recipes: ${err.message}`;
    box.hidden = false;
  });
}
