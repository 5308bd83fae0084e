/** meta.k8s.io/v1 Table, as kube-apiserver answers `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. */

export interface TableColumnDefinition {
  name: string
  type: string
  format: string
  description: string
  /** 0: always shown; 1 and above: only with `-o wide`. */
  priority: number
}

export interface TableRowCondition {
  type: string
  status: string
  reason?: string
  message?: string
}

export interface TableRow {
  cells: unknown[]
  conditions?: TableRowCondition[]
  /** Per includeObject: PartialObjectMetadata (default), the full object, or absent (None). */
  object?: unknown
}

export interface Table {
  kind: 'Table'
  apiVersion: 'meta.k8s.io/v1'
  metadata: { resourceVersion: string; continue?: string }
  columnDefinitions: TableColumnDefinition[]
  rows: TableRow[]
}

/** A CRD's additionalPrinterColumns entry. */
export interface PrinterColumn {
  name: string
  type: string
  jsonPath: string
  priority?: number
  description?: string
  format?: string
}

export interface TableOptions {
  /** The current time, ms since the epoch (for AGE columns). */
  now: number
  resourceVersion: string
  continue?: string
  includeObject?: 'None' | 'Metadata' | 'Object'
  crdColumns?: PrinterColumn[]
}
