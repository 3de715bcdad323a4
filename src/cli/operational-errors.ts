/**
 * Operational failures (the machine said no: a port taken, a host unknown, a directory not writable, a
 * server not answering) become one line naming what failed, never a stack trace: the user did nothing
 * wrong in kvflow's code, and a stack would hide the one fact they need. Bad values the user gave
 * (a port out of range, an address that is not this machine's, an output path that cannot be written)
 * exit 2 like any bad flag; failures of the moment (port in use, server down) exit 1.
 */
export interface OperationalError {
  message: string;
  exit: 1 | 2;
}

interface SystemErrorLike {
  code?: string;
  syscall?: string;
  address?: string;
  port?: number;
  path?: string;
  hostname?: string;
  message?: string;
  cause?: unknown;
}

export function operationalError(error: unknown): OperationalError | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as SystemErrorLike;
  const where = e.address !== undefined ? `${e.address}${e.port !== undefined ? `:${e.port}` : ''}` : undefined;
  switch (e.code) {
    case 'EADDRINUSE':
      return { message: `${where ?? 'the address'} is already in use (another server listens there; pick another --port, or 0 for a free one)`, exit: 1 };
    case 'EADDRNOTAVAIL':
      return { message: `--host: ${where ?? 'the address'} is not an address of this machine`, exit: 2 };
    case 'ERR_SOCKET_BAD_PORT':
      return { message: '--port: must be an integer from 0 to 65535 (0 picks a free port)', exit: 2 };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { message: `${e.syscall === 'getaddrinfo' && e.hostname ? `"${e.hostname}"` : 'the host'} cannot be resolved to an address`, exit: 2 };
    case 'ECONNREFUSED':
      return { message: `nothing answers at ${where ?? 'the server'} (connection refused): is the server running?`, exit: 1 };
    case 'ECONNRESET':
    case 'EPIPE':
      return { message: `the connection to ${where ?? 'the server'} was cut`, exit: 1 };
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return { message: `${where ?? 'the server'} did not answer in time`, exit: 1 };
    case 'EACCES':
    case 'EPERM':
      if (e.syscall === 'listen' || e.syscall === 'bind') return { message: `no permission to listen on ${where ?? 'that port'} (ports below 1024 need privileges)`, exit: 2 };
      return { message: `${e.path ?? 'a file'}: permission denied`, exit: 2 };
    case 'ENOENT':
    case 'ENOTDIR':
      return { message: `${e.path ?? 'a path'}: no such file or directory`, exit: 2 };
    case 'EISDIR':
      return { message: `${e.path ?? 'a path'}: is a directory`, exit: 2 };
    case 'EROFS':
      return { message: `${e.path ?? 'a path'}: read-only file system`, exit: 2 };
    case 'ENOSPC':
      return { message: `${e.path ?? 'the disk'}: no space left on device`, exit: 1 };
    case 'EMFILE':
    case 'ENFILE':
      return { message: 'too many open files (raise ulimit -n)', exit: 1 };
  }
  // undici wraps socket errors: `fetch failed` with the system error as its cause.
  if (e.cause !== undefined && e.cause !== error) return operationalError(e.cause);
  return undefined;
}
