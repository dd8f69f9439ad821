//! Sizes that cannot be allocated are typed errors, not a process abort.
//!
//! Each case used to end the test process with "memory allocation of N bytes failed"
//! (SIGABRT), so a regression here shows as the whole binary dying.

use sympair::{ClusterTask, Combiner, EncoderConfig, Error, MlpConfig, PairClassifier};

fn assert_too_large<T: std::fmt::Debug>(r: sympair::Result<T>, mentions: &str) {
    match r {
        Err(Error::TooLarge { what, bytes }) => {
            assert!(
                what.contains(mentions),
                "{what:?} should mention {mentions:?}"
            );
            assert!(bytes >= 1 << 40, "{bytes}");
        }
        other => panic!("expected Error::TooLarge, got {other:?}"),
    }
}

#[test]
fn huge_hidden_layer_is_too_large_not_an_abort() {
    // The reproduction: 2^20 x 2^30 f32 weights are 4 PiB.
    let r = (|| {
        PairClassifier::builder(1 << 20, Combiner::AbsDiff)
            .mlp_head(MlpConfig::new([1usize << 30])?)
            .build()
    })();
    match &r {
        Err(Error::TooLarge { bytes, .. }) => assert_eq!(*bytes, 1u128 << 52),
        other => panic!("{other:?}"),
    }
    assert_too_large(r, "head layer 0 weight (1048576 x 1073741824)");
}

#[test]
fn huge_encoder_width_is_too_large_not_an_abort() {
    let r = PairClassifier::builder(1 << 20, Combiner::AbsDiff)
        .encoder(EncoderConfig::linear(1 << 30).expect("encoder config"))
        .build();
    assert_too_large(r, "layer 0 weight (1048576 x 1073741824)");
}

#[test]
fn huge_cluster_task_is_too_large_not_an_abort() {
    // 2 x 2^40 f32 centres: 8 TiB.
    assert_too_large(ClusterTask::new(1 << 40, 2), "cluster centres");
    let task = ClusterTask::new(1 << 12, 2).expect("small task");
    // 2^30 pairs of width 2^12: 16 TiB per side.
    assert_too_large(task.generate(1 << 30, 0), "items");
}

#[test]
fn error_message_names_the_size() {
    let err = ClusterTask::new(1 << 40, 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cluster centres (2 x 1099511627776) needs 8796093022208 bytes, more than can be allocated"
    );
}
