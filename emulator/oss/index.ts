/** The OSS emulator's public surface: start it, inject faults, read its request log. */
export { startOssEmulator, type OssEmulator, type OssEmulatorOptions, type RequestRecord } from './server.js';
export { FaultInjector, type FaultKind, type FaultRule, type RandomFaults } from './faults.js';
