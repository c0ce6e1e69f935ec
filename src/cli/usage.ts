/** A command-line mistake: reported on stderr, exit status 2. */
export class UsageError extends Error {
  override get name(): string {
    return 'UsageError';
  }
}
