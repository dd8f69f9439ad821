//! Fallible allocation of the large arrays a configuration asks for.
//!
//! `Array2::zeros` (like `vec!`) aborts the whole process when the allocator refuses, so
//! a width typed by mistake (`1 << 30`) or read from a corrupt file would kill the
//! caller's program instead of returning an error. The arrays whose size comes from user
//! input (weights, synthetic data) are allocated here instead, with
//! [`Vec::try_reserve_exact`], and a refusal becomes [`Error::TooLarge`].
//!
//! What `try_reserve_exact` can catch depends on the operating system: requests beyond
//! the address space always fail; on Linux with the default heuristic overcommit
//! (`vm.overcommit_memory = 0`) so does any single request larger than RAM plus swap. A
//! request the system grants but cannot back later is the OOM killer's business.

use ndarray::{Array1, Array2};

use crate::error::{Error, Result};

/// The largest item width accepted where no weight matrix pins the width (the input of
/// a distance head; a model's `input_dim` before a width-1 combiner such as `Similarity`).
///
/// A width above this in a saved model is corruption, not an embedding: 2^24 values are
/// 64 MiB per item, a thousand times the widest embedding models, and a batch of such
/// rows would not fit in memory. Widths that weights pin need no cap: the weights exist.
pub(crate) const MAX_WIDTH: usize = 1 << 24;

/// `Error::Format` naming `field` if `width` exceeds [`MAX_WIDTH`].
pub(crate) fn check_width(field: &str, width: usize) -> Result<()> {
    if width > MAX_WIDTH {
        return Err(Error::Format(format!(
            "`{field}` is {width}, more than the largest supported width {MAX_WIDTH}"
        )));
    }
    Ok(())
}

/// Bytes of `rows * cols` values of `T`, without overflow.
fn bytes_of<T>(rows: usize, cols: usize) -> u128 {
    (rows as u128) * (cols as u128) * (std::mem::size_of::<T>() as u128)
}

/// `n` values from `f`, or [`Error::TooLarge`] naming `what` (with `bytes` as the size
/// to report) if the memory cannot be had.
fn try_vec<T>(
    what: impl FnOnce() -> String,
    n: Option<usize>,
    bytes: u128,
    f: impl FnMut() -> T,
) -> Result<Vec<T>> {
    let too_large = |what: String| Error::TooLarge { what, bytes };
    // ndarray refuses shapes of more than isize::MAX values; the allocator, more than
    // isize::MAX bytes (the reservation below reports that as an error too).
    let Some(n) = n.filter(|&n| n <= isize::MAX as usize) else {
        return Err(too_large(what()));
    };
    let mut data = Vec::new();
    if data.try_reserve_exact(n).is_err() {
        return Err(too_large(what()));
    }
    data.extend(std::iter::repeat_with(f).take(n));
    Ok(data)
}

/// A `(rows, cols)` array whose values come from `f` in row-major order, or
/// [`Error::TooLarge`] naming `what` if the memory cannot be had.
pub(crate) fn try_array2_from_fn<T>(
    what: impl FnOnce() -> String,
    (rows, cols): (usize, usize),
    f: impl FnMut() -> T,
) -> Result<Array2<T>> {
    let data = try_vec(what, rows.checked_mul(cols), bytes_of::<T>(rows, cols), f)?;
    Ok(Array2::from_shape_vec((rows, cols), data)
        .expect("a vector of rows * cols values has shape (rows, cols)"))
}

/// A `(rows, cols)` array of zeros, or [`Error::TooLarge`] naming `what`.
pub(crate) fn try_zeros(
    what: impl FnOnce() -> String,
    shape: (usize, usize),
) -> Result<Array2<f32>> {
    try_array2_from_fn(what, shape, || 0.0)
}

/// A vector of `n` zeros, or [`Error::TooLarge`] naming `what`.
pub(crate) fn try_zeros1(what: impl FnOnce() -> String, n: usize) -> Result<Array1<f32>> {
    try_vec(what, Some(n), bytes_of::<f32>(n, 1), || 0.0).map(Array1::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_arrays_are_filled_in_row_major_order() {
        let mut k = 0.0f32;
        let a = try_array2_from_fn(
            || "a".into(),
            (2, 3),
            || {
                k += 1.0;
                k
            },
        )
        .unwrap();
        assert_eq!(a, ndarray::array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        assert_eq!(try_zeros(|| "z".into(), (0, 5)).unwrap().dim(), (0, 5));
    }

    #[test]
    fn impossible_sizes_are_too_large_errors_naming_what() {
        for shape in [(usize::MAX, 2), (1 << 62, 1), (1 << 40, 1 << 20)] {
            let err = try_zeros(|| "the thing".into(), shape).unwrap_err();
            match err {
                Error::TooLarge { what, bytes } => {
                    assert_eq!(what, "the thing");
                    assert_eq!(bytes, shape.0 as u128 * shape.1 as u128 * 4);
                }
                other => panic!("{shape:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn address_space_sized_request_is_refused_not_aborted() {
        // 2^46 bytes (64 TiB): more than RAM + swap anywhere this runs, within isize.
        let err = try_zeros(|| "big".into(), (1 << 22, 1 << 22)).unwrap_err();
        assert!(matches!(err, Error::TooLarge { bytes, .. } if bytes == 1 << 46));
    }
}
