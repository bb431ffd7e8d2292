import { execFileSync } from 'node:child_process';

/**
 * Image tags from git state, as seed 002's auto-tagging table:
 *
 * | tree                         | local tag          | remote tags               |
 * |------------------------------|--------------------|---------------------------|
 * | clean, HEAD tagged v1.0.0    | nova:6f826ed       | 6f826ed, v1.0.0, latest   |
 * | dirty (uncommitted changes)  | nova:6f826ed-dirty | 6f826ed, latest           |
 * | clean, no version tag        | nova:6f826ed       | 6f826ed, latest           |
 *
 * The version tag is the highest semver tag on HEAD itself: a tag on an older commit would
 * name code the image does not hold, and a dirty tree never gets one.
 */
export interface ImageTags {
  /** Short commit id (git's own abbreviation, at least 7 characters). */
  sha: string;
  /** Full commit id, for the `org.opencontainers.image.revision` label. */
  revision: string;
  dirty: boolean;
  /** The semver tag on HEAD, as written (`v1.2.3`), when the tree is clean. */
  version: string | null;
  /** The tag of the image `nova docker build` makes: `<sha>` or `<sha>-dirty`. */
  local: string;
  /** The tags `nova docker push` publishes, in the seed's order. */
  remote: string[];
  /** `git remote get-url origin`, for the `org.opencontainers.image.source` label. */
  source: string | null;
}

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

export class GitError extends Error {
  override name = 'GitError';
}

/** Reads the tags of the repository that contains `cwd`. */
export function imageTags(cwd: string): ImageTags {
  const git = (...args: string[]) => runGit(cwd, args);
  const revision = git('rev-parse', '--verify', 'HEAD');
  const sha = git('rev-parse', '--short=7', 'HEAD');
  // Untracked files count: they are in the build context, so in the image.
  const dirty = git('status', '--porcelain', '--untracked-files=normal') !== '';
  const version = dirty ? null : highestSemver(git('tag', '--points-at', 'HEAD').split('\n'));
  let source: string | null = null;
  try {
    source = git('remote', 'get-url', 'origin') || null;
  } catch {
    // no origin: the label is left out
  }
  return {
    sha,
    revision,
    dirty,
    version,
    local: dirty ? `${sha}-dirty` : sha,
    remote: [sha, ...(version ? [version] : []), 'latest'],
    source,
  };
}

/** The highest semver tag among `tags`; a pre-release ranks below its release. */
export function highestSemver(tags: readonly string[]): string | null {
  const parsed = tags
    .map((t) => t.trim())
    .map((tag) => ({ tag, m: SEMVER.exec(tag) }))
    .filter((t): t is { tag: string; m: RegExpExecArray } => t.m !== null);
  parsed.sort((a, b) => {
    for (const i of [1, 2, 3]) {
      const d = Number(b.m[i]) - Number(a.m[i]);
      if (d) return d;
    }
    if (!a.m[4] !== !b.m[4]) return a.m[4] ? 1 : -1;
    return (b.m[4] ?? '').localeCompare(a.m[4] ?? '', 'en', { numeric: true });
  });
  return parsed[0]?.tag ?? null;
}

function runGit(cwd: string, args: string[]): string {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new GitError('git is not installed (no `git` on PATH): image tags come from git state');
    const detail = (e.stderr ?? '').trim().split('\n')[0] ?? '';
    if (/not a git repository/i.test(detail)) throw new GitError(`${cwd} is not in a git repository: image tags come from git state`);
    if (/unknown revision|ambiguous argument 'HEAD'|needed a single revision/i.test(detail)) {
      throw new GitError('the repository has no commit yet: image tags name a commit');
    }
    throw new GitError(`git ${args.join(' ')} failed: ${detail || e.message}`);
  }
}
