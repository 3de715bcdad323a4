/**
 * TensorFlow.js backend selection (DESIGN.md section 7): `@tensorflow/tfjs-node-gpu` (CUDA) when it
 * loads, else `@tensorflow/tfjs-node` (libtensorflow on the CPU), else the pure-JS CPU backend of
 * `@tensorflow/tfjs`, which always loads. The native packages download libtensorflow in their install
 * scripts, which fails offline or when npm does not run them; the package then is missing, or present
 * without its binding, and importing it throws. Every attempt is recorded so `kvflow doctor` can say why.
 */
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { InputError } from '../errors.js';

/** The module every backend exposes: tfjs-node and tfjs-node-gpu re-export `@tensorflow/tfjs`. */
export type Tf = typeof import('@tensorflow/tfjs');

/** In preference order. */
export const BACKEND_NAMES = ['tfjs-node-gpu', 'tfjs-node', 'tfjs-cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
/** What `--backend` accepts: a backend, or `auto` for the first that loads. */
export type BackendChoice = BackendName | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', ...BACKEND_NAMES];

/** One attempt to load a backend, as `kvflow doctor --json` prints it. */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  error?: string;
}

export interface TensorBackend {
  name: BackendName;
  tf: Tf;
  /** Attempts in order, the successful one last. */
  tried: BackendAttempt[];
  /** Human descriptions of the devices tensors live on. */
  devices: string[];
  /**
   * Whether creating a tensor from a typed array copies it. The pure-JS CPU backend keeps a reference,
   * so a real host -> device copy has to be made explicitly there.
   */
  copiesOnUpload: boolean;
}

/** Parses `--backend`; an unknown name is a usage error listing the accepted ones. */
export function parseBackendChoice(text: string): BackendChoice {
  if (!(BACKEND_CHOICES as readonly string[]).includes(text)) {
    throw InputError.flag('--backend', `unknown ${JSON.stringify(text)} (accepted: ${BACKEND_CHOICES.join(', ')})`);
  }
  return text as BackendChoice;
}

/** Package names, held in variables so TypeScript does not try to resolve optional packages. */
const PACKAGES: Record<BackendName, string> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  'tfjs-cpu': '@tensorflow/tfjs',
};

const loaded = new Map<BackendName, Promise<Tf>>();

/**
 * Loads the requested backend, or with `auto` the first of `BACKEND_NAMES` that loads. A named backend
 * that cannot load is an `InputError` (the flag asks for something this machine does not have).
 */
export async function selectBackend(choice: BackendChoice = 'auto'): Promise<TensorBackend> {
  const candidates = choice === 'auto' ? BACKEND_NAMES : [choice];
  const tried: BackendAttempt[] = [];
  for (const name of candidates) {
    try {
      const tf = await loadOnce(name);
      tried.push({ name, ok: true });
      return { name, tf, tried, devices: describeDevices(name, tf), copiesOnUpload: name !== 'tfjs-cpu' };
    } catch (error) {
      tried.push({ name, ok: false, error: describeLoadError(error) });
    }
  }
  const reasons = tried.map((attempt) => `${attempt.name}: ${attempt.error}`).join('; ');
  throw InputError.flag('--backend', `${choice} cannot load (${reasons})`);
}

function loadOnce(name: BackendName): Promise<Tf> {
  let promise = loaded.get(name);
  if (!promise) {
    promise = load(name);
    loaded.set(name, promise);
  }
  return promise;
}

async function load(name: BackendName): Promise<Tf> {
  const tf = (await import(PACKAGES[name])) as Tf;
  // Production mode skips tfjs's debug checks and its console nag about installing tfjs-node.
  tf.enableProdMode();
  const backend = name === 'tfjs-cpu' ? 'cpu' : 'tensorflow';
  if (!(await tf.setBackend(backend))) throw new Error(`backend "${backend}" did not initialise`);
  await tf.ready();
  // A loaded binding can still fail at the first kernel; find out now, not in the middle of a run.
  const probe = tf.tensor1d([1, 2, 3]);
  const sum = tf.sum(probe);
  const value = (await sum.data())[0];
  tf.dispose([probe, sum]);
  if (value !== 6) throw new Error(`self-test computed 1 + 2 + 3 = ${value}`);
  return tf;
}

/** The first line of a load error; a missing package says so plainly. */
function describeLoadError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ERR_MODULE_NOT_FOUND') return 'not installed';
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.trim() || 'failed to load';
}

function describeDevices(name: BackendName, tf: Tf): string[] {
  if (name === 'tfjs-node-gpu') return [`CUDA GPU through libtensorflow (tfjs backend "${tf.getBackend()}")`];
  const cores = cpus();
  const memory = `${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM`;
  const cpu = `${cores[0]?.model.trim() ?? 'CPU'} x${cores.length}, ${memory}`;
  return [name === 'tfjs-node' ? `${cpu} through libtensorflow` : `${cpu} (pure JavaScript kernels)`];
}

/**
 * The pure-JavaScript CPU backend, loaded synchronously, for models whose results must repeat bit for bit
 * (libtensorflow's threaded kernels may sum in a different order each run). Its backend initialises
 * synchronously, so `setBackend` has taken effect when it returns.
 */
export function cpuTfSync(): Tf {
  const tf = createRequire(import.meta.url)(PACKAGES['tfjs-cpu']) as Tf;
  tf.enableProdMode();
  void tf.setBackend('cpu');
  if (tf.getBackend() !== 'cpu') throw new Error('the tfjs CPU backend did not initialise');
  return tf;
}
