// The launch form: recipe parameters and launch-time callbacks, built from the API's schemas
// (each catalog entry's `params_schema`).
import { api, ApiError, upload } from "./api.js";
import { el, replaceChildren } from "./dom.js";
import { buildSchemaFields, fillSelect, submitForm } from "./schema_form.js";
import { runPageUrl } from "./urls.js";

export class LaunchForm {
  constructor(form) {
    this.form = form;
    this.recipeSelect = form.querySelector("#recipe-select");
    this.paramsBox = form.querySelector("#recipe-params");
    this.callbackList = form.querySelector("#launch-callback-list");
    this.callbackSelect = form.querySelector("#launch-callback-select");
    this.submit = form.querySelector("#launch-submit");
    this.recipes = [];
    this.callbacks = [];
    this.blocks = []; // [{name, collect, node}]
  }

  async load() {
    [this.recipes, this.callbacks] = await Promise.all([api("/api/recipes"), api("/api/callbacks")]);
    fillSelect(this.recipeSelect, this.recipes);
    const preferred = this.recipes.find((r) => r.default === true);
    if (preferred) this.recipeSelect.value = preferred.name;
    fillSelect(this.callbackSelect, this.callbacks);
    this.recipeSelect.addEventListener("change", () => this.showRecipe());
    this.form.querySelector("#launch-callback-add").addEventListener("click", () => {
      this.addCallback(this.callbackSelect.value);
    });
    this.form.addEventListener("submit", (event) => this.send(event));
    this.showRecipe();
    const from = new URLSearchParams(window.location.search).get("from");
    if (from) await this.prefill(from);
  }

  showRecipe() {
    const recipe = this.recipes.find((r) => r.name === this.recipeSelect.value);
    replaceChildren(this.paramsBox);
    this.form.querySelector("#recipe-help").textContent = recipe ? recipe.description || "" : "";
    this.params = recipe ? buildSchemaFields(this.paramsBox, recipe.params_schema, "params.") : null;
    this.datasetFields(recipe);
  }

  /**
   * A field whose schema names `x-datasets` (data_path: the datasets that read files) shows
   * only while one of those datasets is chosen.
   */
  datasetFields(recipe) {
    const properties = (recipe && recipe.params_schema.properties) || {};
    const dataset = this.paramsBox.querySelector('[name="params.dataset"]');
    const dependent = Object.entries(properties).filter(([, schema]) => schema["x-datasets"]);
    if (!dataset || !dependent.length) return;
    const update = () => {
      let chosen = dataset.value;
      try {
        chosen = JSON.parse(chosen);
      } catch {
        // a plain value
      }
      for (const [name, schema] of dependent) {
        const field = this.paramsBox.querySelector(`[data-path="params.${CSS.escape(name)}"]`);
        if (field) field.hidden = !schema["x-datasets"].includes(chosen);
      }
    };
    dataset.addEventListener("change", update);
    update();
    this.addUpload(dataset);
  }

  /** Under data_path, for the csv dataset (your own data): upload a CSV or an .npz file
   * into FITBOARD_DATASETS_DIR. */
  addUpload(dataset) {
    const field = this.paramsBox.querySelector('[data-path="params.data_path"]');
    if (!field) return;
    const input = el("input", { type: "file", accept: ".csv,text/csv,.npz", id: "dataset-upload" });
    const note = el("p", { class: "help", id: "dataset-upload-result", role: "status" });
    const box = el(
      "div",
      { class: "dataset-upload", hidden: true },
      el("label", { for: "dataset-upload" }, "or upload a CSV or .npz"),
      input,
      note,
    );
    field.append(box);
    const show = () => {
      box.hidden = !dataset.value.includes("csv");
    };
    dataset.addEventListener("change", show);
    show();
    input.addEventListener("change", async () => {
      const file = input.files && input.files[0];
      if (!file) return;
      const name = datasetName(file.name);
      const npz = name.endsWith(".npz");
      note.textContent = `Uploading ${name}…`;
      try {
        const type = npz ? "application/octet-stream" : "text/csv";
        const table = await upload(`/api/datasets/${encodeURIComponent(name)}`, file, type);
        field.querySelector('[name="params.data_path"]').value = table.name;
        const label = this.paramsBox.querySelector('[name="params.label"]');
        if (label && !npz && !label.value && !table.columns.includes("label")) {
          label.value = table.columns[table.columns.length - 1]; // the usual place of the class
        }
        const what = npz ? "arrays" : "columns";
        note.textContent = `Uploaded ${table.name}: ${table.rows} rows; ${what} ${table.columns.join(", ")}.`;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        note.textContent = `Not uploaded: ${err.fieldErrors[0]?.msg || err.message}`;
      }
    });
  }

  /** "Run again": this form, filled with run `id`'s recipe, parameters and callbacks. */
  async prefill(id) {
    let run;
    try {
      run = await api(`/api/runs/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      return;
    }
    this.recipeSelect.value = run.recipe;
    this.showRecipe();
    restoreValues(this.paramsBox, "params.", run.params || {});
    this.paramsBox.querySelector('[name="params.dataset"]')?.dispatchEvent(new Event("change"));
    for (const cb of run.callbacks || []) {
      this.addCallback(cb.name);
      const i = this.blocks.length - 1;
      restoreValues(this.blocks[i].fields, `callbacks.${i}.params.`, cb.params || {});
    }
    this.form.querySelector("#run-name").value = `${run.name || run.id} again`.slice(0, 200);
    this.form.dataset.prefilledFrom = run.id;
    this.recipeSelect.focus();
  }

  addCallback(name) {
    const spec = this.callbacks.find((c) => c.name === name);
    if (!spec) return;
    const fields = el("div", { class: "fields-grid" });
    const remove = el("button", { type: "button", class: "button-quiet" }, "Remove");
    const title = el("h3", {}, spec.name);
    const node = el(
      "div",
      { class: "callback-block", "data-callback": spec.name },
      el("div", { class: "callback-block-head" }, title, remove),
      spec.description ? el("p", { class: "help" }, spec.description) : null,
      fields,
    );
    const block = { name: spec.name, node, fields, schema: spec.params_schema };
    remove.setAttribute("aria-label", `Remove callback ${spec.name}`);
    remove.addEventListener("click", () => {
      this.blocks = this.blocks.filter((b) => b !== block);
      node.remove();
      this.renumber();
      this.callbackSelect.focus();
    });
    this.blocks.push(block);
    this.callbackList.append(node);
    this.renumber();
    node.querySelector("input, select, textarea")?.focus();
  }

  /** Rebuild each block's fields so data-path matches its index (callbacks.<i>.params.x). */
  renumber() {
    this.blocks.forEach((block, i) => {
      const kept = block.collect ? block.collect() : null;
      replaceChildren(block.fields);
      block.node.dataset.path = `callbacks.${i}`;
      block.collect = buildSchemaFields(block.fields, block.schema, `callbacks.${i}.params.`).collect;
      if (kept) restoreValues(block.fields, `callbacks.${i}.params.`, kept);
    });
  }

  body() {
    const body = {
      recipe: this.recipeSelect.value,
      params: this.params ? this.params.collect() : {},
      callbacks: this.blocks.map((b) => ({ name: b.name, params: b.collect() })),
    };
    const name = this.form.querySelector("#run-name").value.trim();
    if (name) body.name = name;
    return body;
  }

  send(event) {
    return submitForm(event, {
      form: this.form,
      button: this.submit,
      path: "/api/runs",
      body: () => this.body(),
      pageUrl: runPageUrl,
    });
  }
}

/** A file name the datasets API takes: letters, digits, _ and -, ending in .csv or .npz. */
function datasetName(fileName) {
  const suffix = /\.npz$/i.test(fileName) ? ".npz" : ".csv";
  const stem = fileName
    .replace(/\.(csv|npz)$/i, "")
    .replace(/[^A-Za-z0-9_-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  return `${(stem || "dataset").slice(0, 60)}${suffix}`;
}

function restoreValues(container, prefix, values) {
  for (const [name, value] of Object.entries(values)) {
    const input = container.querySelector(`[name="${CSS.escape(prefix + name)}"]`);
    if (!input || value === null) continue;
    if (input.type === "checkbox") input.checked = Boolean(value);
    else if (input.tagName === "SELECT") input.value = JSON.stringify(value);
    else input.value = Array.isArray(value) ? value.join(", ") : String(value);
  }
}
