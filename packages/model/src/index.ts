export * from './resources/meta.ts'
