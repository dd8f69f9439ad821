//! The digits data shared by `examples/digits.rs` and `examples/regularisers.rs`: parsing
//! the CSV and sampling labelled pairs (the same pairs in both for the same seed).

use ndarray::Array2;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};

/// The digits CSV: header `label,p0,...,p63`, pixels 0..16.
pub const DIGITS_CSV: &str = include_str!("../data/digits/digits.csv");

/// Parses `label,p0..p63` lines into images scaled to [0, 1] and their digits; an error
/// names the line.
pub fn parse_digits(text: &str) -> Result<(Array2<f32>, Vec<u8>), String> {
    let mut pixels = Vec::new();
    let mut digits = Vec::new();
    for (k, line) in text.lines().enumerate().skip(1) {
        let line_no = k + 1;
        let bad = || format!("line {line_no}: expected a digit and 64 pixels");
        let mut fields = line.trim().split(',');
        let digit: u8 = fields.next().unwrap_or("").parse().map_err(|_| bad())?;
        let row: Vec<f32> = fields
            .map(|f| f.parse::<f32>().map(|v| v / 16.0))
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        if row.len() != 64 || digit > 9 {
            return Err(bad());
        }
        digits.push(digit);
        pixels.extend(row);
    }
    Array2::from_shape_vec((digits.len(), 64), pixels)
        .map(|images| (images, digits))
        .map_err(|e| e.to_string())
}

/// For every image, `partners` random images of the same digit (label 1) and `partners`
/// of another digit (label 0). Repeats are left in: `ItemPairs` drops them.
pub fn sample_pairs(digits: &[u8], partners: usize, seed: u64) -> Vec<(usize, usize, f32)> {
    let mut by_digit: Vec<Vec<usize>> = vec![Vec::new(); 10];
    for (id, &d) in digits.iter().enumerate() {
        by_digit[usize::from(d)].push(id);
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut pairs = Vec::with_capacity(2 * partners * digits.len());
    for (i, &d) in digits.iter().enumerate() {
        let same = &by_digit[usize::from(d)];
        for _ in 0..partners {
            let j = same[rng.random_range(0..same.len())];
            if j != i {
                pairs.push((i, j, 1.0));
            }
            let other = (usize::from(d) + rng.random_range(1..10)) % 10;
            let pool = &by_digit[other];
            pairs.push((i, pool[rng.random_range(0..pool.len())], 0.0));
        }
    }
    pairs
}
