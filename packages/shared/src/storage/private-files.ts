/**
 * Files and directories only their owner may read: outputs, secrets, a private Redis'
 * data. They are 0600 / 0700 whatever the process umask: a umask can only narrow what
 * open/mkdir ask for, never widen it, so a file is never wider than 0600 at any moment,
 * since it is opened with that mode; and where the umask would narrow the owner's own
 * bits (leaving the owner unable to write), modes are set again explicitly after creating.
 */
import { readFileSync, type WriteStream } from 'node:fs';
import { chmod, mkdir, open, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';

const PRIVATE_FILE_MODE = 0o600;
const PRIVATE_DIR_MODE = 0o700;

/**
 * Whether the umask this process started with leaves the owner's bits alone (022, 077, 002…:
 * nearly always). Then a file or directory created with a private mode has exactly that mode,
 * and the chmod after creating — two system calls per stored output — is skipped. Read from
 * /proc once; where it cannot be read, every mode is set explicitly.
 */
const OWNER_BITS_KEPT = (() => {
  try {
    const umask = /^Umask:\s*([0-7]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    return umask !== undefined && (Number.parseInt(umask, 8) & 0o700) === 0;
  } catch {
    return false;
  }
})();

/**
 * `mkdir -p` whose every newly created directory is 0700. Directories that already
 * existed are left as they are (their owner chose their mode), unless `tighten` asks
 * for `dir` itself to be made 0700 too.
 */
export async function makePrivateDir(dir: string, options: { readonly tighten?: boolean } = {}): Promise<void> {
  const target = path.resolve(dir);
  const first = await mkdir(target, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (first && !OWNER_BITS_KEPT) {
    // The directories created, from the outermost down to `target`.
    let created = target;
    const chain = [created];
    while (created !== first && path.dirname(created) !== created) {
      created = path.dirname(created);
      chain.push(created);
    }
    for (const each of chain.reverse()) await chmod(each, PRIVATE_DIR_MODE);
  } else if (options.tighten) {
    await chmod(target, PRIVATE_DIR_MODE);
  }
}

/** A new file (it must not exist), 0600 from its creation, as a stream to write it with. */
export async function createPrivateWriteStream(file: string): Promise<WriteStream> {
  const handle = await open(file, 'wx', PRIVATE_FILE_MODE);
  if (OWNER_BITS_KEPT) return handle.createWriteStream();
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle.createWriteStream();
}

/** Writes `data` to a new file (it must not exist), 0600 from its creation. */
export async function createPrivateFile(file: string, data: string | Uint8Array): Promise<void> {
  await writeFile(file, data, { flag: 'wx', mode: PRIVATE_FILE_MODE });
  if (!OWNER_BITS_KEPT) await chmod(file, PRIVATE_FILE_MODE);
}

/** Writes `data` to `file` (created or replaced in place), leaving it 0600 whatever its mode was. */
export async function writePrivateFile(file: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(file, 'w', PRIVATE_FILE_MODE);
  try {
    // Before writing: a file that existed keeps its old, maybe wider, mode through open.
    await handle.chmod(PRIVATE_FILE_MODE);
    await handle.writeFile(data);
  } finally {
    await handle.close();
  }
}

/** Sets an existing file's mode to 0600 when it is anything else; says whether it changed it. */
export async function tightenFileMode(file: string): Promise<boolean> {
  const { mode } = await stat(file);
  if ((mode & 0o777) === PRIVATE_FILE_MODE) return false;
  await chmod(file, PRIVATE_FILE_MODE);
  return true;
}
