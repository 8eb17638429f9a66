/**
 * Where the core writes what it decides. The action passes @actions/core,
 * which has this shape; tests and scripts may pass anything else.
 */
export interface Log {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
}

