/** Runs a command-line tool's `main`: what went wrong on stderr as one line, and exit code 1. */
export function runCommand(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
