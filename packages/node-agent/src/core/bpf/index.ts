export * from './nat-maps.ts'
