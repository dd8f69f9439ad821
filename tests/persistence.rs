//! Saving and loading: bitwise round trips, versioning, corrupted files, atomic writes.

mod common;

use common::*;
use proptest::prelude::*;
use sympair::{
    Combiner, EncoderConfig, Error, HeadConfig, MlpConfig, PairClassifier, PairData, Similarity,
    Stack, TrainConfig,
};

fn zoo() -> Vec<PairClassifier> {
    let mut models: Vec<PairClassifier> = Combiner::builtins()
        .into_iter()
        .map(|c| trained_model(6, c, 3))
        .collect();
    models.push(
        PairClassifier::builder(6, Combiner::AbsDiff)
            .encoder(EncoderConfig::new(MlpConfig::new([7]).unwrap(), 5).unwrap())
            .build()
            .unwrap(),
    );
    models.push(
        PairClassifier::builder(6, Combiner::SquaredDiff)
            .encoder(EncoderConfig::linear(4).unwrap())
            .head(HeadConfig::Distance { learn_scale: true })
            .build()
            .unwrap(),
    );
    models.push(
        PairClassifier::builder(
            6,
            Combiner::Stack(
                Stack::new(vec![
                    Combiner::Sum,
                    Combiner::Similarity(Similarity::Cosine),
                ])
                .unwrap(),
            ),
        )
        .build()
        .unwrap(),
    );
    models
}

#[test]
fn save_then_load_gives_bitwise_identical_logits() {
    let data = tiny_task(6, 9);
    let dir = scratch_dir("persistence");
    for (k, model) in zoo().into_iter().enumerate() {
        let path = dir.path().join(format!("model-{k}.json"));
        model.save(&path).unwrap();
        let loaded = PairClassifier::load(&path).unwrap();
        assert_eq!(loaded, model);
        let a = model.logits_for(&data).unwrap();
        let b = loaded.logits_for(&data).unwrap();
        assert_eq!(bits(&a), bits(&b), "model {k}");
    }
}

proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(256))]

    #[test]
    fn every_finite_weight_survives_the_json_round_trip(bits in proptest::collection::vec(any::<u32>(), 57)) {
        // 6 -> 8 -> 1 head: 6*8 + 8 + 8 + 1 = 65 parameters; fill the first 57 with
        // arbitrary finite bit patterns (subnormals included).
        let mut model = PairClassifier::builder(6, Combiner::Sum)
            .mlp_head(MlpConfig::new([8]).unwrap())
            .build()
            .unwrap();
        let mut p = model.parameters();
        for (slot, b) in p.iter_mut().zip(bits) {
            let v = f32::from_bits(b);
            if v.is_finite() {
                *slot = v;
            }
        }
        model.set_parameters(&p).unwrap();
        let back = PairClassifier::<Combiner>::from_json_bytes(&model.to_json_bytes().unwrap()).unwrap();
        prop_assert_eq!(common::bits(&back.parameters()), common::bits(&p));
    }

    #[test]
    fn mutated_model_bytes_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let model = trained_model(4, Combiner::ConcatSwapAverage, 1);
        let mut bytes = model.to_json_bytes().unwrap();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        // Either a typed error or a valid model that predicts without panicking.
        if let Ok(m) = PairClassifier::<Combiner>::from_json_bytes(&bytes) {
            let _ = m.predict_pair_logit(&[0.5; 4], &[0.1; 4]);
        }
        let full = model.to_json_bytes().unwrap();
        let truncated = &full[..cut.index(full.len())];
        prop_assert!(matches!(
            PairClassifier::<Combiner>::from_json_bytes(truncated),
            Err(Error::Format(_))
        ));
    }
}

#[test]
fn other_format_version_is_a_version_error() {
    let model = trained_model(4, Combiner::Sum, 1);
    let text = String::from_utf8(model.to_json_bytes().unwrap()).unwrap();
    let v2 = text.replacen("\"version\":1", "\"version\":2", 1);
    assert_ne!(text, v2);
    match PairClassifier::<Combiner>::from_json_bytes(v2.as_bytes()) {
        Err(Error::Version {
            found: 2,
            expected: 1,
        }) => {}
        other => panic!("expected a version error, got {other:?}"),
    }
}

#[test]
fn inconsistent_shapes_are_format_errors() {
    let model = trained_model(4, Combiner::Sum, 1);
    let text = String::from_utf8(model.to_json_bytes().unwrap()).unwrap();
    // Claim another input width: the head no longer fits.
    let wrong_dim = text.replacen("\"input_dim\":4", "\"input_dim\":5", 1);
    assert!(matches!(
        PairClassifier::<Combiner>::from_json_bytes(wrong_dim.as_bytes()),
        Err(Error::Format(_))
    ));
    // A different combiner whose width differs (concat: 2d).
    let wrong_comb = text.replacen("\"combiner\":\"sum\"", "\"combiner\":\"concat\"", 1);
    assert_ne!(text, wrong_comb);
    assert!(matches!(
        PairClassifier::<Combiner>::from_json_bytes(wrong_comb.as_bytes()),
        Err(Error::Format(_))
    ));
    // Not a model at all.
    assert!(matches!(
        PairClassifier::<Combiner>::from_json_bytes(
            b"{\"format\":\"other\",\"version\":1,\"model\":{}}"
        ),
        Err(Error::Format(_))
    ));
}

#[test]
fn failed_save_keeps_the_previous_file() {
    let dir = scratch_dir("persistence");
    let path = dir.path().join("keep.json");
    let old = trained_model(4, Combiner::Sum, 1);
    old.save(&path).unwrap();
    let before = std::fs::read(&path).unwrap();
    // Saving into a folder that does not exist fails before touching anything.
    let bad = path.parent().unwrap().join("no-such-dir").join("keep.json");
    let new = trained_model(4, Combiner::Product, 2);
    assert!(matches!(new.save(&bad), Err(Error::Io { .. })));
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // A successful save replaces the file in one step.
    new.save(&path).unwrap();
    assert_eq!(PairClassifier::load(&path).unwrap(), new);
}

#[test]
fn loading_a_missing_file_is_an_io_error_naming_the_path() {
    let err = PairClassifier::<Combiner>::load("/definitely/not/here.json").unwrap_err();
    assert!(
        err.to_string().contains("/definitely/not/here.json"),
        "{err}"
    );
    let _ = TrainConfig::new();
    let _ = tiny_task(3, 0).len();
}

/// A combiner type of the user's own: `|x - y| + 1`, symmetric and positive.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct ShiftedAbsDiff;

impl sympair::PairCombiner for ShiftedAbsDiff {
    fn name(&self) -> String {
        "shifted_abs_diff".into()
    }
    fn output_dim(&self, d: usize) -> usize {
        d
    }
    fn is_symmetric(&self) -> bool {
        true
    }
    fn forward(
        &self,
        x: ndarray::ArrayView2<f32>,
        y: ndarray::ArrayView2<f32>,
        mut out: ndarray::ArrayViewMut2<f32>,
    ) -> sympair::Result<()> {
        ndarray::Zip::from(&mut out)
            .and(&x)
            .and(&y)
            .for_each(|o, &a, &b| *o = (a - b).abs() + 1.0);
        Ok(())
    }
    fn backward(
        &self,
        x: ndarray::ArrayView2<f32>,
        y: ndarray::ArrayView2<f32>,
        g: ndarray::ArrayView2<f32>,
        mut dx: ndarray::ArrayViewMut2<f32>,
        mut dy: ndarray::ArrayViewMut2<f32>,
    ) -> sympair::Result<()> {
        ndarray::Zip::from(&mut dx)
            .and(&mut dy)
            .and(&x)
            .and(&y)
            .and(&g)
            .for_each(|dx, dy, &a, &b, &g| {
                let s = if a > b {
                    1.0
                } else if a < b {
                    -1.0
                } else {
                    0.0
                };
                *dx += g * s;
                *dy -= g * s;
            });
        Ok(())
    }
}

#[test]
fn built_in_models_load_without_annotation_and_custom_combiners_with_load_as() {
    let dir = scratch_dir("persistence");
    let path = dir.path().join("annotation.json");
    let model = trained_model(4, Combiner::Max, 2);
    model.save(&path).unwrap();
    let loaded = PairClassifier::load(&path).unwrap(); // no type annotation
    assert_eq!(loaded, model);
    let bytes = model.to_json_bytes().unwrap();
    assert_eq!(PairClassifier::from_json_bytes(&bytes).unwrap(), model);

    let custom = PairClassifier::builder(4, ShiftedAbsDiff)
        .seed(1)
        .build()
        .unwrap();
    custom.save(&path).unwrap();
    let back = PairClassifier::load_as::<ShiftedAbsDiff>(&path).unwrap();
    assert_eq!(back, custom);
    let back =
        PairClassifier::from_json_bytes_as::<ShiftedAbsDiff>(&custom.to_json_bytes().unwrap())
            .unwrap();
    assert_eq!(back, custom);
    // A built-in model is not a ShiftedAbsDiff model, and the other way round.
    assert!(PairClassifier::from_json_bytes_as::<ShiftedAbsDiff>(&bytes).is_err());
    assert!(PairClassifier::load(&path).is_err());
}
