/** The API server's pure core: patches, selectors, tables and small helpers. */
export { humanDuration } from './duration.ts'
export {
  checkFieldSelector,
  type FieldRequirement,
  type FieldSelector,
  fieldValue,
  formatFieldSelector,
  matchesFields,
  parseFieldSelector,
  selectableFields,
} from './field-selector.ts'
export { generateName, newUid, parseTimestamp, rfc3339 } from './ids.ts'
export { deepClone, deepEqual, isObject, type JsonObject, jsonClone } from './json.ts'
export { jsonPatch, parseJsonPointer } from './json-patch.ts'
export { evalJsonPath } from './jsonpath.ts'
export {
  everything,
  formatLabelSelector,
  formatLabels,
  type LabelOperator,
  type LabelRequirement,
  type LabelSelector,
  type LabelSelectorSpec,
  labelKeyErrors,
  labelSelectorFromSpec,
  labelValueErrors,
  matchesLabels,
  parseLabelSelector,
  selectorFromMap,
} from './label-selector.ts'
export { createTwoWayMergePatch, jsonMergePatch } from './merge-patch.ts'
export { formatEndpoints } from './printers.ts'
export { strategicMergePatch } from './strategic-merge.ts'
export { type FieldPatchMeta, type PatchSchema, STRATEGIC_SCHEMAS, strategicSchemaFor } from './strategic-schema.ts'
export type {
  PrinterColumn,
  Table,
  TableColumnDefinition,
  TableOptions,
  TableRow,
  TableRowCondition,
} from './table-types.ts'
export { printerFor, toTable } from './tables.ts'
