export * from './conntrack.ts'
export * from './entry.ts'
export * from './format.ts'
export * from './store.ts'
