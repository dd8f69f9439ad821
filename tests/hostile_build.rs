//! Hostile settings for building a classifier: input widths, layer widths, heads, stacks,
//! and widths too large to allocate.
//!
//! Fixtures and the error summary [`Kind`](common::hostile::Kind) are in
//! `tests/common/hostile.rs`; every property runs 256 cases.

mod common;

use common::hostile::*;
use proptest::prelude::*;
use sympair::{
    Combiner, EncoderConfig, HeadConfig, MlpConfig, PairClassifier, PairCombiner, Stack,
};

// ---------------------------------------------------------------------------------------
// Building a classifier
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn builder_rejects_bad_configs(
        input_dim in 0usize..4,
        ci in 0..all_combiners().len(),
        with_encoder in any::<bool>(),
        distance in any::<bool>(),
    ) {
        let combiner = all_combiners().swap_remove(ci);
        let nonnegative = combiner.output_is_nonnegative();
        let mut b = PairClassifier::builder(input_dim, combiner).seed(3);
        if with_encoder {
            b = b.encoder(EncoderConfig::new(MlpConfig::new([2]).unwrap(), 2).unwrap());
        }
        if distance {
            b = b.head(HeadConfig::Distance { learn_scale: true });
        } else {
            b = b.mlp_head(MlpConfig::new([3]).unwrap());
        }
        let r = b.build();
        if input_dim == 0 {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("input_dim")));
        } else if distance && !nonnegative {
            prop_assert_eq!(outcome(&r), Err(Kind::Unsupported));
        } else {
            prop_assert_eq!(r.unwrap().input_dim(), input_dim);
        }
    }

    #[test]
    fn zero_widths_in_layer_configs_are_rejected(
        hidden in proptest::collection::vec(0usize..3, 0..6),
        out in 0usize..3,
    ) {
        let r = MlpConfig::new(hidden.clone());
        match hidden.iter().position(|&w| w == 0) {
            Some(pos) => {
                let err = r.unwrap_err();
                prop_assert_eq!(kind(&err), Kind::Config("hidden"));
                prop_assert!(err.to_string().contains(&format!("layer {pos}")), "{err}");
            }
            None => {
                let mlp = r.unwrap();
                let enc = EncoderConfig::new(mlp, out);
                if out == 0 {
                    prop_assert_eq!(outcome(&enc), Err(Kind::Config("encoder output_dim")));
                } else {
                    prop_assert_eq!(enc.unwrap().output_dim(), out);
                }
            }
        }
        if out == 0 {
            prop_assert_eq!(outcome(&EncoderConfig::linear(out)), Err(Kind::Config("encoder output_dim")));
        }
    }

    #[test]
    fn stacks_reject_no_part_and_multi_view_parts(
        parts in proptest::collection::vec(0..all_combiners().len(), 0..4),
    ) {
        let parts: Vec<Combiner> = parts.into_iter().map(|i| all_combiners().swap_remove(i)).collect();
        let multi = parts.iter().any(|p| p.n_views() != 1);
        let r = Stack::new(parts.clone());
        if parts.is_empty() {
            prop_assert_eq!(outcome(&r), Err(Kind::Config("stack")));
        } else if multi {
            prop_assert_eq!(outcome(&r), Err(Kind::Unsupported));
        } else {
            prop_assert!(r.is_ok());
        }
    }
}

/// Regression: widths whose weight matrix cannot exist (more than `isize::MAX` bytes) made
/// ndarray panic inside `build`; they are now a configuration error naming the width.
#[test]
fn builder_rejects_widths_too_large_to_allocate() {
    let huge = [usize::MAX, 1 << 62, isize::MAX as usize];
    for w in huge {
        let cases = [
            (
                "input_dim",
                PairClassifier::builder(w, Combiner::AbsDiff).build(),
            ),
            (
                "input_dim",
                PairClassifier::builder(w / 2 + 1, Combiner::Concat).build(),
            ),
            (
                "hidden",
                PairClassifier::builder(3, Combiner::AbsDiff)
                    .mlp_head(MlpConfig::new([4, w, 2]).unwrap())
                    .build(),
            ),
            (
                "output_dim",
                PairClassifier::builder(3, Combiner::AbsDiff)
                    .encoder(EncoderConfig::linear(w).unwrap())
                    .build(),
            ),
        ];
        for (field, r) in cases {
            assert_eq!(outcome(&r), Err(Kind::Config(field)), "width {w}");
        }
    }
}
