import { CodedError } from '@calilab/kit'
import type { StoreErrorCode } from './types.ts'

export class StoreError extends CodedError {
  declare readonly code: StoreErrorCode
  constructor(
    data: { code: StoreErrorCode; message: string; key?: string; [k: string]: unknown },
    options?: { cause?: unknown },
  ) {
    super(data, options)
    this.name = 'StoreError'
  }
}
