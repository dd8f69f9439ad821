//! Hostile model files: truncated, byte-, digit- and structurally mutated, other versions and
//! formats, random bytes, inconsistent and huge shapes, missing and unreadable paths. Each
//! loads as a usable model or fails with a typed error; none panics.
//!
//! Fixtures and the error summary [`Kind`](common::hostile::Kind) are in
//! `tests/common/hostile.rs`; every property runs 256 cases.

mod common;

use std::panic::catch_unwind;

use common::hostile::*;
use common::{bits, scratch_dir};
use proptest::prelude::*;
use sympair::{Combiner, Error, FORMAT_VERSION, PairClassifier};

/// A loaded model must be usable: it predicts on finite pairs of its width (a few rows,
/// unless it is absurdly wide), and a symmetric one bit-identically in both orders.
fn check_usable(model: &PairClassifier) -> Result<(), TestCaseError> {
    let d = model.input_dim();
    prop_assert!(d >= 1);
    let short = vec![0.5f32; d.min(8) + usize::from(d <= 8)];
    // A slice of another width is a width error, whatever the model.
    prop_assert!(matches!(
        kind(&model.predict_pair_logit(&short, &short).unwrap_err()),
        Kind::Width("x", _, _)
    ));
    if d > 256 || model.n_params() > 1 << 16 {
        return Ok(());
    }
    let (x, y) = (filled(5, d, 0.2), filled(5, d, 2.9));
    let xy = model.predict_logits(x.view(), y.view());
    let yx = model.predict_logits(y.view(), x.view());
    match (xy, yx) {
        (Ok(xy), Ok(yx)) => {
            if model.is_symmetric() {
                prop_assert_eq!(bits(&xy), bits(&yx));
            }
        }
        // Finite weights so large that a logit overflows (a weight edited to 1.8e19) load,
        // and prediction says so with a typed error naming the pair; a symmetric model
        // fails the same way in both orders.
        (xy, yx) => {
            for r in [&xy, &yx] {
                prop_assert!(
                    matches!(r, Err(Error::NonFiniteLogit { .. }) | Ok(_)),
                    "{xy:?} {yx:?}"
                );
            }
            if model.is_symmetric() {
                prop_assert_eq!(format!("{xy:?}"), format!("{yx:?}"));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Model files
// ---------------------------------------------------------------------------------------

/// A model file must load or fail with `Format`/`Version`, never panic; a model that
/// loads must be usable.
fn check_model_bytes(bytes: &[u8]) -> Result<(), TestCaseError> {
    match PairClassifier::<Combiner>::from_json_bytes(bytes) {
        Ok(model) => check_usable(&model),
        Err(e) => {
            prop_assert!(matches!(kind(&e), Kind::Format | Kind::Version(_)), "{e:?}");
            Ok(())
        }
    }
}

/// Every JSON pointer of a value.
fn pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, child) in m {
                pointers(child, format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Replacement values for structural mutations.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(0)),
        Just(json!(-1)),
        Just(json!(1)),
        Just(json!(2)),
        Just(json!(4)),
        Just(json!(1e39)),
        Just(json!(-1e39)),
        Just(json!(3.5)),
        Just(json!(u64::MAX)),
        Just(json!(1u64 << 63)),
        Just(json!((1u64 << 63) + 1)),
        Just(json!("relu")),
        Just(json!("stack")),
        Just(json!("concat")),
        Just(json!("x")),
        Just(json!([])),
        Just(json!({})),
        Just(json!([1, 2])),
        Just(json!({"stack": {"parts": []}})),
        Just(json!({"stack": {"parts": ["concat_swap_average"]}})),
        Just(json!({"stack": {"parts": ["abs_diff", "squared_diff"]}})),
        Just(json!({"distance": {"log_scale": 0.0, "learn_scale": true}})),
        Just(json!({"similarity": "cosine"})),
        Just(json!({"v": 1, "dim": [1, 1], "data": [0.5]})),
        Just(json!({"v": 2, "dim": [1], "data": [0.5]})),
        Just(json!({"v": 1, "dim": [0, 4], "data": []})),
        Just(json!({"v": 1, "dim": [1000000, 1000000], "data": [1.0]})),
        any::<i64>().prop_map(|i| json!(i)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
    ]
}

proptest! {
    #![proptest_config(cfg())]

    #[test]
    fn truncated_model_files_are_format_errors(
        mi in zoo_index(), at in any::<proptest::sample::Index>(), via_file in any::<bool>(),
    ) {
        let bytes = &ZOO_BYTES[mi];
        let cut = &bytes[..at.index(bytes.len())];
        let r = if via_file {
            let dir = scratch_dir("hostile-model");
            let path = dir.path().join("truncated.json");
            std::fs::write(&path, cut).unwrap();
            PairClassifier::<Combiner>::load(&path)
        } else {
            PairClassifier::<Combiner>::from_json_bytes(cut)
        };
        prop_assert_eq!(outcome(&r), Err(Kind::Format));
    }

    #[test]
    fn byte_mutated_model_files_load_as_usable_models_or_fail_cleanly(
        mi in zoo_index(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), 0u8..3, any::<u8>()), 1..5),
    ) {
        let mut bytes = ZOO_BYTES[mi].clone();
        for (at, op, b) in edits {
            let i = at.index(bytes.len().max(1)).min(bytes.len());
            match op {
                0 if i < bytes.len() => bytes[i] = b,
                1 => bytes.insert(i, b),
                _ if i < bytes.len() => {
                    bytes.remove(i);
                }
                _ => {}
            }
        }
        check_model_bytes(&bytes)?;
    }

    /// Digits of numbers, the places where a one-byte change most often still parses.
    #[test]
    fn digit_mutated_model_files_load_as_usable_models_or_fail_cleanly(
        mi in zoo_index(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), b'0'..=b'9'), 1..4),
    ) {
        let mut bytes = ZOO_BYTES[mi].clone();
        let digits: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i].is_ascii_digit()).collect();
        for (at, d) in edits {
            bytes[digits[at.index(digits.len())]] = d;
        }
        check_model_bytes(&bytes)?;
    }

    #[test]
    fn structurally_mutated_model_files_load_as_usable_models_or_fail_cleanly(
        mi in zoo_index(),
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), json_value()), 1..4),
    ) {
        let mut doc: serde_json::Value = serde_json::from_slice(&ZOO_BYTES[mi]).unwrap();
        for (at, value) in edits {
            let mut ptrs = Vec::new();
            pointers(&doc, String::new(), &mut ptrs);
            let ptr = &ptrs[at.index(ptrs.len())];
            match doc.pointer_mut(ptr) {
                Some(slot) => *slot = value,
                None => prop_assert!(false, "pointer {ptr} vanished"),
            }
        }
        check_model_bytes(&serde_json::to_vec(&doc).unwrap())?;
    }

    #[test]
    fn other_versions_and_formats_are_rejected(
        mi in zoo_index(),
        version in any::<u64>().prop_filter("another version", |v| *v != FORMAT_VERSION),
        name in "[a-zA-Z_]{0,12}".prop_filter("another format", |s| s != "sympair"),
        other in prop_oneof![
            Just("-1"), Just("1.0"), Just("\"1\""), Just("null"), Just("1e3"), Just("18446744073709551616"),
        ],
    ) {
        let mut doc: serde_json::Value = serde_json::from_slice(&ZOO_BYTES[mi]).unwrap();
        doc["version"] = serde_json::json!(version);
        let r = PairClassifier::<Combiner>::from_json_bytes(&serde_json::to_vec(&doc).unwrap());
        prop_assert_eq!(outcome(&r), Err(Kind::Version(version)));

        let mut doc: serde_json::Value = serde_json::from_slice(&ZOO_BYTES[mi]).unwrap();
        doc["format"] = serde_json::json!(name);
        let r = PairClassifier::<Combiner>::from_json_bytes(&serde_json::to_vec(&doc).unwrap());
        prop_assert_eq!(outcome(&r), Err(Kind::Format));

        let text = String::from_utf8(ZOO_BYTES[mi].clone()).unwrap();
        let text = text.replacen("\"version\":1", &format!("\"version\":{other}"), 1);
        prop_assert_eq!(outcome(&PairClassifier::<Combiner>::from_json_bytes(text.as_bytes())), Err(Kind::Format));
    }

    #[test]
    fn random_bytes_are_not_a_model(
        prefix in prop_oneof![
            Just(&b""[..]),
            Just(&b"{\"format\":\"sympair\",\"version\":1,\"model\":"[..]),
            Just(&b"{\"format\":\"sympair\",\"version\":1,\"model\":{\"input_dim\":3,\"combiner\":"[..]),
        ],
        tail in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let bytes = [prefix, &tail].concat();
        let r = PairClassifier::<Combiner>::from_json_bytes(&bytes);
        prop_assert!(matches!(outcome(&r), Err(Kind::Format | Kind::Version(_))), "{r:?}");
    }
}

/// Every prefix of every saved model, in one loop: none may panic, all are format errors.
#[test]
fn every_prefix_of_every_saved_model_is_a_format_error() {
    for (mi, bytes) in ZOO_BYTES.iter().enumerate() {
        for cut in 0..bytes.len() {
            let r = catch_unwind(|| PairClassifier::<Combiner>::from_json_bytes(&bytes[..cut]));
            let r = r.unwrap_or_else(|_| panic!("model {mi} cut at {cut} panicked"));
            assert_eq!(outcome(&r), Err(Kind::Format), "model {mi} cut at {cut}");
        }
    }
}

/// Hand-made inconsistent models, each a format error.
#[test]
fn inconsistent_model_files_are_format_errors() {
    let sum = String::from_utf8(ZOO_BYTES[0].clone()).unwrap();
    assert!(sum.contains("\"combiner\":\"sum\""), "{sum}");
    let cases: Vec<(&str, String)> = vec![
        ("input_dim 0", sum.replace("\"input_dim\":3", "\"input_dim\":0")),
        (
            "input_dim differs from the head",
            sum.replace("\"input_dim\":3", "\"input_dim\":4"),
        ),
        (
            "weight shape and data disagree",
            sum.replacen("\"dim\":[3,4]", "\"dim\":[3,5]", 1),
        ),
        (
            "bias of the wrong length",
            sum.replacen("\"dim\":[4],\"data\":[0.0,0.0,0.0,0.0]", "\"dim\":[3],\"data\":[0.0,0.0,0.0]", 1),
        ),
        ("no layers", {
            let mut doc: serde_json::Value = serde_json::from_str(&sum).unwrap();
            doc["model"]["head"]["mlp"]["layers"] = serde_json::json!([]);
            doc.to_string()
        }),
        ("NaN weight written as null", {
            let mut doc: serde_json::Value = serde_json::from_str(&sum).unwrap();
            doc["model"]["head"]["mlp"]["layers"][0]["w"]["data"][0] = serde_json::Value::Null;
            doc.to_string()
        }),
        ("weight too large for f32", {
            let mut doc: serde_json::Value = serde_json::from_str(&sum).unwrap();
            doc["model"]["head"]["mlp"]["layers"][0]["w"]["data"][0] = serde_json::json!(1e39);
            doc.to_string()
        }),
        (
            "unknown combiner",
            sum.replace("\"combiner\":\"sum\"", "\"combiner\":\"median\""),
        ),
        (
            "empty stack",
            sum.replace("\"combiner\":\"sum\"", "\"combiner\":{\"stack\":{\"parts\":[]}}"),
        ),
        (
            "stack of a multi-view combiner",
            sum.replace(
                "\"combiner\":\"sum\"",
                "\"combiner\":{\"stack\":{\"parts\":[\"concat_swap_average\"]}}",
            ),
        ),
        (
            "distance head on a signed combiner",
            r#"{"format":"sympair","version":1,"model":{"input_dim":3,"combiner":"sum","encoder":null,"head":{"distance":{"log_scale":0.0,"learn_scale":true}}}}"#.into(),
        ),
        (
            "distance scale too large for f32",
            r#"{"format":"sympair","version":1,"model":{"input_dim":3,"combiner":"abs_diff","encoder":null,"head":{"distance":{"log_scale":1e39,"learn_scale":true}}}}"#.into(),
        ),
        ("no model", r#"{"format":"sympair","version":1}"#.into()),
        ("not an object", "[1,2,3]".into()),
        ("empty", String::new()),
    ];
    for (name, text) in cases {
        let r = catch_unwind(|| PairClassifier::<Combiner>::from_json_bytes(text.as_bytes()))
            .unwrap_or_else(|_| panic!("{name}: panicked"));
        assert_eq!(outcome(&r), Err(Kind::Format), "{name}: {text}");
    }
}

/// Regression: an `input_dim` near `usize::MAX` used to overflow `2 * d` in `Concat` and
/// the width sum of `Stack` (a panic with overflow checks, a wrapped width without).
#[test]
fn huge_input_dims_in_model_files_do_not_overflow() {
    let heads = [
        r#"{"distance":{"log_scale":0.0,"learn_scale":true}}"#,
        r#"{"mlp":{"layers":[{"w":{"v":1,"dim":[2,1],"data":[0.5,0.5]},"b":{"v":1,"dim":[1],"data":[0.0]}}],"activation":"relu"}}"#,
    ];
    let combiners = [
        r#""concat""#,
        r#""concat_swap_average""#,
        r#"{"stack":{"parts":["abs_diff","squared_diff"]}}"#,
        r#"{"stack":{"parts":["concat","concat","concat"]}}"#,
        r#""squared_diff""#,
    ];
    for dim in [
        (1u64 << 63) + 1,
        1 << 63,
        u64::MAX,
        (u64::MAX / 3) + 1,
        1 << 62,
    ] {
        for c in combiners {
            for h in heads {
                let text = format!(
                    r#"{{"format":"sympair","version":1,"model":{{"input_dim":{dim},"combiner":{c},"encoder":null,"head":{h}}}}}"#
                );
                let r =
                    catch_unwind(|| PairClassifier::<Combiner>::from_json_bytes(text.as_bytes()))
                        .unwrap_or_else(|_| panic!("input_dim {dim}, combiner {c}: panicked"));
                match r {
                    // Only a distance head has no weights to contradict the width.
                    Ok(model) => {
                        assert!(h.contains("distance"), "{text}");
                        let err = model.predict_pair_logit(&[1.0], &[1.0]).unwrap_err();
                        assert!(matches!(err, Error::WidthMismatch { .. }), "{err:?}");
                    }
                    Err(e) => assert_eq!(kind(&e), Kind::Format, "{text}"),
                }
            }
        }
    }
}

#[test]
fn loading_a_missing_or_unreadable_file_is_an_io_error() {
    let scratch = scratch_dir("hostile-model");
    let missing = scratch.path().join("no-such-model.json");
    assert_eq!(
        outcome(&PairClassifier::<Combiner>::load(&missing)),
        Err(Kind::Io)
    );
    let dir = scratch.path().join("a-folder");
    std::fs::create_dir_all(&dir).unwrap();
    assert_eq!(
        outcome(&PairClassifier::<Combiner>::load(&dir)),
        Err(Kind::Io)
    );
}
