/**
 * The `kvflow` server processes a soak runs, and the promise that none outlives it: every child started
 * here is killed when the soak ends, fails, times out or is interrupted (SIGINT, SIGTERM, SIGHUP, an
 * uncaught error). Only a SIGKILL of the soak itself can leave them behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';

/** How a server's node process is started beyond its `kvflow` arguments. */
export interface Launch {
  /** Node options before the CLI script (`--expose-gc`, `--import ...`). */
  nodeArgs?: string[];
  /** Its environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

export interface Server {
  readonly child: ChildProcess;
  readonly url: string;
  /** Resolves when the process has exited (at once if it already has). */
  readonly exited: Promise<void>;
}

/** How long a stopped child gets between SIGTERM and SIGKILL. */
const TERM_GRACE_MS = 5_000;

export class ServerProcesses {
  readonly #live = new Set<ChildProcess>();
  readonly #cli: string;
  readonly #cwd: string;
  #removeHandlers: (() => void) | undefined;
  /** Set by stopAll: a restart still under way must not leave a new child behind. */
  #stopped = false;

  constructor(cli: string, cwd: string) {
    this.#cli = cli;
    this.#cwd = cwd;
  }

  /** Process ids of the children still running. */
  get pids(): number[] {
    return [...this.#live].map((child) => child.pid!).filter((pid) => pid !== undefined);
  }

  /**
   * Kills every child when this process is interrupted or dies of an uncaught error, then exits
   * (130/143/129 for a signal, 1 for an error, with a one-line message).
   */
  installExitHandlers(name: string): void {
    const onSignal = (signal: NodeJS.Signals) => {
      process.stderr.write(`${name}: ${signal}: stopping the servers\n`);
      void this.stopAll().finally(() => process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[signal]!));
    };
    const onError = (error: unknown) => {
      process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
      void this.stopAll().finally(() => process.exit(1));
    };
    // Last resort when something calls process.exit directly: no time to wait, so SIGKILL.
    const onExit = () => {
      for (const child of this.#live) child.kill('SIGKILL');
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const signal of signals) process.on(signal, onSignal);
    process.on('uncaughtException', onError);
    process.on('unhandledRejection', onError);
    process.on('exit', onExit);
    this.#removeHandlers = () => {
      for (const signal of signals) process.off(signal, onSignal);
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
      process.off('exit', onExit);
    };
  }

  removeExitHandlers(): void {
    this.#removeHandlers?.();
    this.#removeHandlers = undefined;
  }

  /**
   * Starts `kvflow ...args` and resolves once it prints the address it listens on. A start that takes
   * longer than `timeoutMs` (a restart on a loaded machine can take minutes) or exits first kills the
   * child and rejects; `attempts` > 1 retries (a port not yet released by the process before it).
   */
  async start(args: string[], timeoutMs: number, attempts = 1, launch: Launch = {}): Promise<Server> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#startOnce(args, timeoutMs, launch);
      } catch (error) {
        if (attempt >= attempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1_000 * attempt));
      }
    }
  }

  #startOnce(args: string[], timeoutMs: number, launch: Launch): Promise<Server> {
    if (this.#stopped) return Promise.reject(new Error(`kvflow ${args[0]} not started: the soak is stopping`));
    const child = spawn(process.execPath, [...(launch.nodeArgs ?? []), this.#cli, ...args], { cwd: this.#cwd, stdio: ['ignore', 'pipe', 'pipe'], env: launch.env ?? process.env });
    this.#live.add(child);
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      child.once('exit', () => resolve());
    });
    void exited.then(() => this.#live.delete(child));
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new Error(`kvflow ${args[0]} ${why}${err.trim() ? `: ${err.trim().split('\n').at(-1)}` : ''}`));
      };
      const timer = setTimeout(() => fail(`did not print its address within ${timeoutMs / 1000} s`), timeoutMs);
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        if (out.length < 10_000) out += chunk;
        const match = /listening on (\S+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          resolve({ child, url: match[1]!, exited });
        }
      });
      // Keep the last lines of stderr for the failure message; never let a full pipe block the child.
      child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
        err = (err + chunk).slice(-2_000);
      });
      child.once('error', (error) => fail(`could not be started: ${error.message}`));
      child.once('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`}) before listening`));
    });
  }

  /** SIGKILLs one server and waits until it is gone (its port free for a restart). */
  async kill(server: Server): Promise<void> {
    server.child.kill('SIGKILL');
    await server.exited;
  }

  /** SIGTERM to every child, SIGKILL to those still running after a grace period; resolves when all are gone. */
  async stopAll(): Promise<void> {
    this.#stopped = true;
    const children = [...this.#live];
    const gone = children.map((child) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()))));
    for (const child of children) child.kill('SIGTERM');
    const grace = setTimeout(() => {
      for (const child of children) child.kill('SIGKILL');
    }, TERM_GRACE_MS);
    await Promise.all(gone);
    clearTimeout(grace);
  }
}
