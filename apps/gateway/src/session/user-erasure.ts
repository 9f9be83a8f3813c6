import type { SessionRepository, UserDataCount } from './session.repository';

/** Sessions deleted per statement, with their messages, so that no statement runs into its timeout. */
const DEFAULT_BATCH = 500;

/**
 * Deletes every session of a JWT subject with its messages (an erasure request), `batch` sessions
 * at a time, and says how many of each were deleted; with `dryRun`, only how many there are.
 */
export async function eraseUser(
  sessions: SessionRepository,
  userId: string,
  { dryRun = false, batch = DEFAULT_BATCH } = {},
): Promise<UserDataCount> {
  if (dryRun) return sessions.countOfUser(userId);
  const total = { sessions: 0, messages: 0 };
  for (let deleted = batch; deleted === batch;) {
    const gone = await sessions.deleteOfUser(userId, batch);
    total.sessions += gone.sessions;
    total.messages += gone.messages;
    deleted = gone.sessions;
  }
  return total;
}
