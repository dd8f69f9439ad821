//! Crash-safe file writes: write a temporary file beside the target, flush it to disk,
//! then rename it over the target. A reader sees either the old file or the new one,
//! never a truncated mix.
//!
//! The temporary file and the rename come from [`tempfile`] (`NamedTempFile::persist`);
//! what is added here is what it leaves to the caller:
//!
//! * the folder is synced after the rename (unix), so the rename itself survives a crash;
//! * a symbolic link at the target is followed: the file it points to is replaced (in
//!   that file's folder), the link stays a link;
//! * temporaries left by a killed save (`.NAME.tmp-*` beside `NAME`) are removed by the
//!   next save of the same target, once they are older than [`STALE_AFTER`].

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::error::{Error, Result};

/// A temporary file of the same target older than this is left over from a killed save.
///
/// Why an age and not a lock: a save writes bytes that are already in memory, syncs and
/// renames, which takes seconds even for a large model, and the file's modification time
/// moves with every write. A temporary untouched for 15 minutes therefore belongs to a
/// process that died (or is suspended, and whose save would then fail cleanly at the
/// rename with an I/O error, leaving the target intact). A lock would need a lock file of
/// its own (itself left behind by a kill) or platform-specific calls.
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// Symbolic links followed at most when resolving the target (as Linux's `ELOOP` limit).
const MAX_LINKS: usize = 40;

/// Writes a file atomically: `write` fills a temporary file in the target's folder, which
/// is flushed, synced and renamed over `path` only if `write` succeeded. On any error the
/// temporary file is removed and the previous content of `path` (if any) is untouched.
/// If `path` is a symbolic link, the file it points to is replaced and the link is kept.
pub(crate) fn atomic_write<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    // Errors name `path`, which is what the caller asked to write.
    let target = resolve_links(path).map_err(|e| Error::io(path, e))?;
    let (dir, prefix) = dir_and_prefix(&target).map_err(|e| Error::io(path, e))?;
    let mut tmp = temp_builder(&prefix)
        .tempfile_in(&dir)
        .map_err(|e| Error::io(path, e))?;
    // From here on, dropping `tmp` (on any error) deletes the temporary file.
    let mut out = BufWriter::new(tmp.as_file_mut());
    write(&mut out).map_err(|e| Error::io(path, e))?;
    out.flush().map_err(|e| Error::io(path, e))?;
    drop(out);
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    tmp.persist(&target).map_err(|e| Error::io(path, e.error))?;
    sync_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    // Best effort: a leftover that cannot be removed (permissions, a race with another
    // cleaner) must not turn a successful save into an error.
    let _ = remove_stale_temporaries(&dir, &prefix, STALE_AFTER);
    Ok(())
}

/// Follows symbolic links at `path` (not in its folders, which `rename` follows itself)
/// to the path of the file to replace. A dangling link resolves to its missing target,
/// which the save then creates.
fn resolve_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            // Not a link, or nothing there yet: this is the file to write.
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other(format!(
        "more than {MAX_LINKS} levels of symbolic links"
    )))
}

/// The folder of `target` (`.` for a bare file name) and the prefix of its temporaries,
/// `.NAME.tmp-` (the same prefix earlier versions used, so their leftovers are cleaned too).
fn dir_and_prefix(target: &Path) -> std::io::Result<(PathBuf, String)> {
    let name = target.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name")
    })?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, format!(".{}.tmp-", name.to_string_lossy())))
}

fn temp_builder(prefix: &str) -> tempfile::Builder<'_, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    // The saved file gets the permissions `File::create` would give it (0o666 less the
    // umask), not tempfile's private 0o600: a model file is not a secret.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    builder
}

/// Makes the rename durable: on unix the folder's entry is only on disk once the folder
/// is synced. (Windows cannot open a folder as a file; its rename is durable as is.)
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Removes regular files in `dir` named `PREFIX*` whose last change is older than
/// `older_than`; returns how many were removed.
fn remove_stale_temporaries(
    dir: &Path,
    prefix: &str,
    older_than: Duration,
) -> std::io::Result<usize> {
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        // `symlink_metadata`: never follow a link out of the folder.
        let meta = entry.path().symlink_metadata()?;
        // A modification time in the future (clock skew) counts as fresh.
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok());
        if meta.is_file() && age.is_some_and(|a| a >= older_than) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temporaries(dir: &Path, prefix: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        names
    }

    /// A file at `path` whose modification time is `age` ago.
    fn file_aged(path: &Path, age: Duration) {
        let f = File::create(path).unwrap();
        f.set_len(1 << 20).unwrap();
        f.set_modified(SystemTime::now() - age).unwrap();
    }

    #[test]
    fn failed_write_leaves_previous_file_intact_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keep.txt");
        fs::write(&path, b"old content").unwrap();
        let err = atomic_write(&path, |w| {
            w.write_all(b"half of the new")?;
            Err(std::io::Error::other("simulated crash mid-write"))
        });
        assert!(matches!(err, Err(Error::Io { .. })));
        assert_eq!(fs::read(&path).unwrap(), b"old content");
        assert!(temporaries(dir.path(), ".keep.txt.tmp").is_empty());
    }

    #[test]
    fn successful_write_replaces_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("replace.txt");
        fs::write(&path, b"old").unwrap();
        atomic_write(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn temporary_file_sits_beside_the_target_with_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        atomic_write(&path, |_| {
            // Mid-write: exactly one temporary, named after the target.
            let names = temporaries(dir.path(), ".m.json.tmp-");
            assert_eq!(names.len(), 1, "{names:?}");
            Ok(())
        })
        .unwrap();
        assert!(temporaries(dir.path(), ".m.json.tmp-").is_empty());
    }

    #[test]
    fn save_after_a_killed_save_removes_its_stale_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        // What killed saves leave behind: this version's names and the old `pid-counter` ones.
        let old = STALE_AFTER + Duration::from_secs(60);
        file_aged(&dir.path().join(".model.json.tmp-Ab3xYz"), old);
        file_aged(&dir.path().join(".model.json.tmp-4242-0"), old);
        atomic_write(&path, |w| w.write_all(b"new")).unwrap();
        assert!(temporaries(dir.path(), ".model.json.tmp").is_empty());
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }

    #[test]
    fn save_keeps_fresh_temporaries_and_other_targets_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.json");
        let old = STALE_AFTER + Duration::from_secs(60);
        // Another process may be writing this one right now.
        file_aged(
            &dir.path().join(".model.json.tmp-busy01"),
            Duration::from_secs(5),
        );
        // Another target's leftover, and a user's file that merely looks alike.
        file_aged(&dir.path().join(".other.json.tmp-Ab3xYz"), old);
        file_aged(&dir.path().join("model.json.tmp-mine"), old);
        atomic_write(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(
            temporaries(dir.path(), ".model.json.tmp"),
            [".model.json.tmp-busy01"]
        );
        assert!(dir.path().join(".other.json.tmp-Ab3xYz").exists());
        assert!(dir.path().join("model.json.tmp-mine").exists());
    }

    #[cfg(unix)]
    #[test]
    fn save_through_a_symlink_replaces_its_target_and_keeps_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("store");
        fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("real.json");
        fs::write(&real, b"old").unwrap();
        let link = dir.path().join("current.json");
        std::os::unix::fs::symlink("store/real.json", &link).unwrap();

        atomic_write(&link, |w| w.write_all(b"new")).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("store/real.json"));
        assert_eq!(fs::read(&real).unwrap(), b"new");
        // The temporary lived beside the target, not beside the link.
        assert_eq!(fs::read_dir(&real_dir).unwrap().count(), 1);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn save_through_a_chain_of_symlinks_and_a_dangling_one() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.json");
        let mid = dir.path().join("mid.json");
        let top = dir.path().join("top.json");
        std::os::unix::fs::symlink(&real, &mid).unwrap(); // dangling: real does not exist
        std::os::unix::fs::symlink("mid.json", &top).unwrap();
        atomic_write(&top, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&real).unwrap(), b"new");
        assert!(fs::symlink_metadata(&top).unwrap().file_type().is_symlink());
        assert!(fs::symlink_metadata(&mid).unwrap().file_type().is_symlink());
    }

    #[cfg(unix)]
    #[test]
    fn symlink_loop_is_an_io_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.json");
        let b = dir.path().join("b.json");
        std::os::unix::fs::symlink(&b, &a).unwrap();
        std::os::unix::fs::symlink(&a, &b).unwrap();
        let err = atomic_write(&a, |w| w.write_all(b"x")).unwrap_err();
        assert!(
            matches!(&err, Error::Io { path, .. } if path == &a),
            "{err:?}"
        );
        assert!(err.to_string().contains("symbolic links"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn saved_file_gets_the_permissions_of_a_created_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let created = dir.path().join("created");
        File::create(&created).unwrap();
        let saved = dir.path().join("saved");
        atomic_write(&saved, |w| w.write_all(b"x")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&saved), mode(&created));
    }

    #[test]
    fn path_without_file_name_is_an_io_error() {
        let err = atomic_write(Path::new("/"), |w| w.write_all(b"x")).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
    }
}
