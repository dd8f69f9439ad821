//! Hostile model files whose item width no weight bounds: an `input_dim` above 2^24 in
//! front of a width-1 `Similarity` combiner, with or without an encoder, is a format
//! error naming `input_dim` at load, like the same width in front of a distance head.

use sympair::{Combiner, Error, PairClassifier};

/// One affine layer `d_in -> 1` in the saved format, all weights `w`.
fn layer(d_in: usize, w: &str) -> String {
    let data = vec![w; d_in].join(",");
    format!(
        r#"{{"w":{{"v":1,"dim":[{d_in},1],"data":[{data}]}},"b":{{"v":1,"dim":[1],"data":[0.0]}}}}"#
    )
}

/// A saved similarity model: items of width `input_dim`, an optional encoder
/// `input_dim -> 1`, `Similarity(Dot)`, and a linear head `1 -> 1`.
fn similarity_model(input_dim: usize, with_encoder: bool) -> String {
    let encoder = if with_encoder {
        format!(
            r#"{{"layers":[{}],"activation":"relu"}}"#,
            layer(input_dim, "0")
        )
    } else {
        "null".to_owned()
    };
    let head = format!(
        r#"{{"mlp":{{"layers":[{}],"activation":"relu"}}}}"#,
        layer(1, "1.0")
    );
    format!(
        r#"{{"format":"sympair","version":1,"model":{{"input_dim":{input_dim},"combiner":{{"similarity":"dot"}},"encoder":{encoder},"head":{head}}}}}"#
    )
}

fn assert_width_format_error(r: Result<PairClassifier<Combiner>, Error>, what: &str) {
    match r {
        Err(Error::Format(msg)) => assert!(msg.contains("input_dim"), "{what}: {msg}"),
        Err(e) => panic!("{what}: expected a format error naming input_dim, got {e:?}"),
        Ok(m) => panic!("{what}: loaded a model of input_dim {}", m.input_dim()),
    }
}

#[test]
fn similarity_models_wider_than_2_pow_24_are_format_errors_at_load() {
    for dim in [(1usize << 24) + 1, 1 << 40, usize::MAX] {
        let text = similarity_model(dim, false);
        assert_width_format_error(
            PairClassifier::from_json_bytes(text.as_bytes()),
            &format!("no encoder, input_dim {dim}"),
        );
        // Plain serde takes the same checks.
        let wrapped: serde_json::Value = serde_json::from_str(&text).unwrap();
        let r = serde_json::from_value::<PairClassifier<Combiner>>(wrapped["model"].clone());
        let err = r.expect_err("plain serde loaded an over-wide model");
        assert!(err.to_string().contains("input_dim"), "{err}");
    }
}

#[test]
fn similarity_model_with_an_encoder_wider_than_2_pow_24_is_a_format_error_at_load() {
    let dim = (1usize << 24) + 1;
    let text = similarity_model(dim, true);
    assert_width_format_error(
        PairClassifier::from_json_bytes(text.as_bytes()),
        &format!("encoder, input_dim {dim}"),
    );
}

/// The cap is at 2^24 itself, not below: the widest accepted width still loads and
/// reports a wrong-width pair as such.
#[test]
fn similarity_model_of_width_exactly_2_pow_24_loads() {
    let model =
        PairClassifier::<Combiner>::from_json_bytes(similarity_model(1 << 24, false).as_bytes())
            .expect("width 2^24 is within the cap");
    assert_eq!(model.input_dim(), 1 << 24);
    let err = model.predict_pair_logit(&[1.0], &[1.0]).unwrap_err();
    assert!(matches!(err, Error::WidthMismatch { .. }), "{err:?}");
}

#[test]
fn the_builder_refuses_a_width_that_load_would_refuse() {
    use sympair::combiner::Similarity;
    let at_cap = PairClassifier::builder(1 << 24, Combiner::Similarity(Similarity::Dot)).build();
    assert!(at_cap.is_ok(), "2^24 builds, as it loads");
    for width in [(1usize << 24) + 1, usize::MAX] {
        match PairClassifier::builder(width, Combiner::Similarity(Similarity::Dot)).build() {
            Err(Error::InvalidConfig { field, .. }) => assert_eq!(field, "input_dim"),
            other => panic!("width {width}: expected a config error, got {other:?}"),
        }
    }
}
