export * from './meta.ts'
