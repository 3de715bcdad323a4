/**
 * The one hardware resolver of every command (`simulate`, `sweep`, `engine`, `emulate`, `calibrate`):
 * presets, then a `--config` document, then single coefficients (flags or grid fields, laid over the
 * document at the paths config/simulation-fields.ts gives), then the `gpu`/`model` names. Only the
 * document is checked with zod; flag and grid values were checked field by field already.
 */
import { InputError } from '../errors.js';
import { hardwareFrom, parseHardwareOverrides, readHardwareConfigFile, type HardwareConfig, type HardwareOverrides } from '../sim/hardware.js';
import { DEFAULT_BLOCK_SIZE } from '../types.js';
import { HARDWARE_DOCUMENT_PATHS, type HARDWARE_FIELDS, type SimulationSettings } from './simulation-fields.js';

/** What a run names about its hardware: presets, a config file, single coefficients. */
export type HardwareSettings = Pick<SimulationSettings, keyof typeof HARDWARE_FIELDS>;

/**
 * The hardware of one run. Pages are `blockSize` tokens, the workload's block size: a document that says
 * otherwise is an error, unless `blockSizeWins` (a server's `--block-size` overrides the document's).
 * Without a block size (calibration), the document's, else the default. Problems name the config file,
 * or `settingsName` (where the values came from) when there is none.
 */
export async function hardwareFor(
  settings: HardwareSettings,
  blockSize: number | undefined,
  settingsName: string,
  options: { blockSizeWins?: boolean } = {},
): Promise<HardwareConfig> {
  const source = settings.config ?? settingsName;
  const document = settings.config === undefined ? {} : parseHardwareOverrides(await readHardwareConfigFile(settings.config), source);
  if (blockSize !== undefined && !options.blockSizeWins && document.blockSize !== undefined && document.blockSize !== blockSize) {
    throw InputError.atPath(source, 'blockSize', `must equal the workload's block size ${blockSize}`);
  }
  const layered = layerSettings({ ...document, blockSize: blockSize ?? document.blockSize ?? DEFAULT_BLOCK_SIZE }, settings);
  return hardwareFrom(layered, {
    ...(settings.gpu !== undefined && { gpu: settings.gpu }),
    ...(settings.model !== undefined && { model: settings.model }),
  });
}

/**
 * The hardware of a server (`kvflow engine`, the emulators' in-process engines): as `hardwareFor`, with
 * the server's `--block-size` winning over a config document's (a server has no workload to agree with).
 */
export async function serverHardware(settings: HardwareSettings, blockSize: number | undefined): Promise<HardwareConfig> {
  return hardwareFor(settings, blockSize, 'flags', { blockSizeWins: true });
}

/** A document with each coefficient given in `settings` written at its document paths (copied, never mutated). */
export function layerSettings(document: HardwareOverrides, settings: HardwareSettings): HardwareOverrides {
  const layered: Record<string, unknown> = { ...document };
  for (const [field, paths] of Object.entries(HARDWARE_DOCUMENT_PATHS)) {
    const value = settings[field as keyof HardwareSettings];
    if (value === undefined) continue;
    for (const path of paths) setPath(layered, path.split('.'), value);
  }
  return layered as HardwareOverrides;
}

function setPath(target: Record<string, unknown>, [key, ...rest]: string[], value: unknown): void {
  if (rest.length === 0) {
    target[key!] = value;
    return;
  }
  const inner = { ...(target[key!] as Record<string, unknown> | undefined) };
  target[key!] = inner;
  setPath(inner, rest, value);
}
