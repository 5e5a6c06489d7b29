// ESLint for the dashboard's ES modules (static/js) and their node:test unit tests.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["static/js/**/*.js"],
    languageOptions: { sourceType: "module", globals: { ...globals.browser, uPlot: "readonly" } },
  },
  {
    files: ["tests/browser/js/**/*.mjs"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
