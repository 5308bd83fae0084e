export {
  ACCOUNTS,
  type AppContext,
  type AppStarter,
  answerDns,
  appForContainer,
  EXTERNAL_NAMES,
  FTP_BANNER,
  ftpBanner,
  httpApp,
  kubeDns,
  NGINX_PAGE,
  nginx,
  type RunningApp,
  yaobankCustomer,
  yaobankDatabase,
  yaobankPage,
  yaobankSummary,
} from './apps.ts'
export * from './http.ts'
export { MemNet } from './mem-net.ts'
export * from './stream.ts'
