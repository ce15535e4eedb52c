export { startMailSimulator } from './mail-simulator.js';
export type {
  MailFilter,
  MailMessage,
  MailSimulator,
  MailSimulatorOptions,
  WaitForOptions,
} from './mail-simulator.js';
