export { attachInternet, GOOGLE_PAGE, INTERNET_LINK, type Internet, internetAddresses } from './internet.ts'
export {
  kernelRouteSink,
  ROUTER_EXEC_PORT,
  type RouterHostInit,
  type RunningRouterHost,
  runRouterHost,
  startRouterHost,
} from './router-host.ts'
