export * from './net/index.ts'
export * from './resources/index.ts'
export * from './selector/index.ts'
export * from './topology/index.ts'
