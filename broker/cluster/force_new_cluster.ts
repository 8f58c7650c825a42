/**
 * The check `main.ts` makes before it touches anything when started with `--force-new-cluster`:
 * the flag recovers the data directory of a surviving member, so a missing directory, or one
 * without a log, is refused (exit 2) before the lock, the node id or an empty log is written.
 * What the flag does is in `replication/force_new_cluster.ts`.
 *
 * @module
 */
/** A log segment's file name: its base index in 20 digits (`storage/segment.ts`). */
const segmentNamePattern = /^\d{20}\.log$/;

/**
 * Whether `dataDir` holds a log: a segment, or the log start a snapshot install leaves before the
 * next append. A joining node says so in its join (see `member_changes.ts`). Reads only.
 */
export function holdsLog(dataDir: string): boolean {
  const logDir = `${dataDir.replace(/\/+$/, "")}/log`;
  try {
    for (const entry of Deno.readDirSync(logDir)) {
      if (entry.isFile && (segmentNamePattern.test(entry.name) || entry.name === "log_start")) {
        return true;
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return false;
}

/**
 * Why `dataDir` can't be recovered with `--force-new-cluster` (no directory, no log segment in
 * `dataDir/log`), or null when it holds a log. Reads only.
 */
export function forceNewClusterDirProblem(dataDir: string): string | null {
  const refuse = (what: string) =>
    `--force-new-cluster: ${what}, so there is nothing to recover: give the data directory of ` +
    "a surviving member (a new node joins with --join instead)";
  const logDir = `${dataDir.replace(/\/+$/, "")}/log`;
  try {
    if (!Deno.statSync(dataDir).isDirectory) return refuse(`${dataDir} is not a directory`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return refuse(`${dataDir} does not exist`);
    throw error;
  }
  let segments = 0;
  try {
    for (const entry of Deno.readDirSync(logDir)) {
      if (entry.isFile && segmentNamePattern.test(entry.name)) segments++;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return segments === 0 ? refuse(`${dataDir} holds no log (no segment in ${logDir})`) : null;
}
