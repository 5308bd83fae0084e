export * from './names.ts'
export * from './routes.ts'
export * from './wep.ts'
