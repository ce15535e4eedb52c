export { startDnsSimulator, isMode, isTxtValue, MODES } from './dns-simulator.js';
export type {
  AddTxtOptions,
  DnsSimulator,
  DnsSimulatorOptions,
  Mode,
  QueryLogEntry,
  SetTxtOptions,
  TxtRecordSnapshot,
  TxtValue,
} from './dns-simulator.js';
