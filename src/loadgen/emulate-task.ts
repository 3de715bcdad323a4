/** Piscina worker entry: runs one worker's lanes of an emulation (workflow-client.ts). */
import { runEmulateTask, type EmulateSamples, type EmulateTask } from './workflow-client.js';

export default function emulateTask(task: EmulateTask): Promise<EmulateSamples> {
  return runEmulateTask(task);
}
