//! Crash-safe file writes: write a temporary file beside the target, flush it to disk,
//! then rename it over the target. A reader sees either the old file or the new one,
//! never a truncated mix.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Writes a file atomically: `write` fills a temporary file in the target's folder, which
/// is flushed, synced and renamed over `path` only if `write` succeeded. On any error the
/// temporary file is removed and the previous content of `path` (if any) is untouched.
pub(crate) fn atomic_write<F>(path: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let tmp = temp_path(path);
    let result = write_and_sync(path, &tmp, write).and_then(|()| {
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        sync_parent(path);
        Ok(())
    });
    if result.is_err() {
        // Best effort: the temporary file is ours and must not linger; the target is intact.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Errors name the target `path`, which is what the caller asked to write.
fn write_and_sync<F>(path: &Path, tmp: &Path, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    let file = File::create(tmp).map_err(|e| Error::io(path, e))?;
    let mut out = BufWriter::new(file);
    write(&mut out).map_err(|e| Error::io(path, e))?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(path, e))
}

/// `dir/.name.tmp-<pid>-<counter>`: in the same folder (so `rename` stays on one file
/// system) and unique per process and call.
fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "sympair".to_owned());
    let tmp_name = format!(".{name}.tmp-{}-{n}", std::process::id());
    match path.parent() {
        Some(dir) => dir.join(tmp_name),
        None => PathBuf::from(tmp_name),
    }
}

/// Makes the rename durable on file systems that need the folder synced (best effort).
fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sympair-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn failed_write_leaves_previous_file_intact_and_no_temp_file() {
        let path = scratch("keep.txt");
        fs::write(&path, b"old content").unwrap();
        let err = atomic_write(&path, |w| {
            w.write_all(b"half of the new")?;
            Err(std::io::Error::other("simulated crash mid-write"))
        });
        assert!(matches!(err, Err(Error::Io { .. })));
        assert_eq!(fs::read(&path).unwrap(), b"old content");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains("keep.txt.tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary file left behind");
    }

    #[test]
    fn successful_write_replaces_content() {
        let path = scratch("replace.txt");
        fs::write(&path, b"old").unwrap();
        atomic_write(&path, |w| w.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}
