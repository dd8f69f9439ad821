//! Saving models to disk: crash leftovers, symbolic links, no stray files.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use sympair::{Combiner, PairClassifier};

fn model() -> PairClassifier {
    PairClassifier::builder(3, Combiner::AbsDiff)
        .seed(1)
        .build()
        .expect("model builds")
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Leaves what a save killed mid-write leaves: a large temporary beside the target,
/// last written an hour ago.
fn leave_killed_save_temporary(path: &Path) {
    let f = fs::File::create(path).expect("create");
    f.set_len(20 << 20).expect("grow");
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .expect("age");
}

#[test]
fn save_cleans_up_temporaries_of_killed_saves_of_the_same_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("model.json");
    model().save(&path).expect("first save");
    for i in 0..3 {
        leave_killed_save_temporary(&dir.path().join(format!(".model.json.tmp-{i}x9Qr2")));
    }
    // Another model's leftover in the same folder is not ours to delete.
    leave_killed_save_temporary(&dir.path().join(".other.json.tmp-4x9Qr2"));
    model().save(&path).expect("second save");
    assert_eq!(
        names(dir.path()),
        [".other.json.tmp-4x9Qr2", "model.json"],
        "stale temporaries of model.json must be gone, others kept"
    );
    assert_eq!(PairClassifier::load(&path).expect("loads"), model());
}

#[test]
fn repeated_saves_leave_only_the_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("m.json");
    for _ in 0..5 {
        model().save(&path).expect("save");
    }
    assert_eq!(names(dir.path()), ["m.json"]);
}

#[cfg(unix)]
#[test]
fn save_over_a_symlink_writes_through_to_its_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = dir.path().join("models");
    fs::create_dir(&models).expect("mkdir");
    let real = models.join("v7.json");
    fs::write(&real, b"previous model").expect("write");
    let link = dir.path().join("current.json");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");

    model().save(&link).expect("save through link");
    let meta = fs::symlink_metadata(&link).expect("link metadata");
    assert!(meta.file_type().is_symlink(), "the link must stay a link");
    assert_eq!(fs::read_link(&link).expect("read link"), real);
    assert_eq!(PairClassifier::load(&real).expect("target loads"), model());
    assert_eq!(names(&models), ["v7.json"]);
}
