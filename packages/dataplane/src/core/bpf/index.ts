export * from './dump.ts'
export * from './maps.ts'
export * from './program.ts'
