//! Thread count for batched prediction, all-pairs scoring and training.
//!
//! `sympair` splits large batches over scoped threads of the standard library (no thread
//! pool, no extra dependency). The default uses every core that
//! [`std::thread::available_parallelism`] reports; [`set_num_threads`] changes it for the
//! whole process. Results do not depend on the thread count: prediction is computed row
//! by row, and training splits each mini-batch into fixed slices of
//! [`TRAIN_SLICE`] pairs whose gradients are added in a fixed order, whatever the
//! number of threads.

use std::sync::atomic::{AtomicUsize, Ordering};

static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Pairs per training slice: a mini-batch is cut into slices of this many pairs, each
/// slice's gradient computed on its own (possibly on another thread), and the slice
/// gradients summed in slice order. Fixed, so that weights do not depend on the thread count.
pub const TRAIN_SLICE: usize = 128;

/// Below this many pairs per thread, prediction stays on one thread.
pub(crate) const MIN_PAIRS_PER_THREAD: usize = 512;

/// Most threads `sympair` will use, whatever [`set_num_threads`] was given.
pub const MAX_THREADS: usize = 256;

/// Sets the number of threads `sympair` uses (0 = all available cores, the default;
/// values above [`MAX_THREADS`] count as [`MAX_THREADS`]).
///
/// ```
/// sympair::set_num_threads(1);
/// assert_eq!(sympair::num_threads(), 1);
/// sympair::set_num_threads(0);
/// assert!(sympair::num_threads() >= 1);
/// ```
pub fn set_num_threads(n: usize) {
    THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads `sympair` uses (at least 1).
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => available(),
        n => n,
    }
    .min(MAX_THREADS)
}

/// Cores available to the process, asked once (the query reads cgroup files).
fn available() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Threads for `items` units of work when each thread needs at least `min_per_thread`.
pub(crate) fn threads_for(items: usize, min_per_thread: usize) -> usize {
    let by_work = items / min_per_thread.max(1);
    if by_work <= 1 {
        return 1;
    }
    num_threads().min(by_work).max(1)
}

/// Splits `0..n` into `parts` contiguous ranges of near-equal length.
pub(crate) fn ranges(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.max(1);
    let base = n / parts;
    let extra = n % parts;
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    for p in 0..parts {
        let len = base + usize::from(p < extra);
        out.push(start..start + len);
        start += len;
    }
    out
}

/// Runs `f(i, &mut items[i])` for every item, spread over up to `threads` scoped threads
/// (contiguous blocks of items per thread), and returns the results in item order. The
/// result of each call depends only on its item, so the thread count cannot change it.
pub(crate) fn map_mut<T, R, F>(items: &mut [T], threads: usize, f: F) -> Vec<R>
where
    T: Send,
    R: Send,
    F: Fn(usize, &mut T) -> R + Sync,
{
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter_mut().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let blocks = ranges(items.len(), threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut rest = items;
        let mut handles = Vec::with_capacity(blocks.len());
        for block in blocks {
            let (mine, tail) = rest.split_at_mut(block.len());
            rest = tail;
            handles.push(scope.spawn(move || {
                mine.iter_mut()
                    .enumerate()
                    .map(|(k, t)| f(block.start + k, t))
                    .collect::<Vec<R>>()
            }));
        }
        let mut out = Vec::new();
        for h in handles {
            match h.join() {
                Ok(v) => out.extend(v),
                // A panic in `f` is a bug in this crate; re-raise it where it belongs.
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        out
    })
}
