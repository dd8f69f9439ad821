//! Metric learning end to end: deterministic across thread counts, exactly symmetric
//! models, losses that go down, a calibrated probability on top, typed errors.

mod common;

use common::bits;
use ndarray::Array2;
use sympair::{
    ClusterTask, Combiner, EncoderConfig, Error, HeadConfig, MetricConfig, MetricLoss, MlpConfig,
    PairClassifier, PairData, PairDataset, Similarity,
};

fn model(sim: Similarity) -> PairClassifier {
    PairClassifier::builder(8, Combiner::Similarity(sim))
        .encoder(EncoderConfig::new(MlpConfig::new([16]).unwrap(), 6).unwrap())
        .head(HeadConfig::Mlp(MlpConfig::linear()))
        .seed(4)
        .build()
        .unwrap()
}

fn cases() -> Vec<(MetricLoss, Similarity)> {
    vec![
        (
            MetricLoss::Contrastive { margin: 2.0 },
            Similarity::NegSquaredL2,
        ),
        (
            MetricLoss::Triplet { margin: 1.0 },
            Similarity::NegSquaredL2,
        ),
        (MetricLoss::InfoNce { temperature: 0.1 }, Similarity::Cosine),
    ]
}

fn data(n: usize, seed: u64) -> PairDataset {
    ClusterTask::new(8, 5).unwrap().generate(n, seed).unwrap()
}

fn config(loss: MetricLoss) -> MetricConfig {
    MetricConfig::new(loss)
        .epochs(4)
        .unwrap()
        .batch_size(64)
        .unwrap()
        .seed(9)
}

#[test]
fn fit_metric_is_bitwise_deterministic_across_pools_of_1_and_2_threads() {
    let train = data(500, 1);
    for (loss, sim) in cases() {
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let mut m = model(sim);
                    let h = m.fit_metric(&train, &config(loss.clone())).unwrap();
                    (m.parameters(), h)
                })
        };
        let ((p1, h1), (p2, h2)) = (run(1), run(2));
        assert_eq!(bits(&p1), bits(&p2), "{loss:?}");
        assert_eq!(h1, h2, "{loss:?}");
        assert_ne!(
            bits(&p1),
            bits(&model(sim).parameters()),
            "{loss:?}: weights moved"
        );
    }
}

#[test]
fn metric_trained_models_are_exactly_symmetric_and_learn() {
    let (train, valid) = (data(1500, 2), data(600, 3));
    for (loss, sim) in cases() {
        let mut m = model(sim);
        let cfg = MetricConfig::new(loss.clone())
            .epochs(15)
            .unwrap()
            .batch_size(128)
            .unwrap();
        let hist = m.fit_metric(&train, &cfg).unwrap();
        assert!(hist[hist.len() - 1] < hist[0], "{loss:?}: loss {hist:?}");
        m.calibrate_similarity(&valid).unwrap();
        let (x, y) = (valid.left(), valid.right());
        let (lxy, lyx) = (
            m.predict_logits(x, y).unwrap(),
            m.predict_logits(y, x).unwrap(),
        );
        assert_eq!(bits(&lxy), bits(&lyx), "{loss:?}");
        let auc = sympair::metrics::roc_auc(lxy.as_slice().unwrap(), valid.labels()).unwrap();
        assert!(auc > 0.8, "{loss:?}: auc {auc:?}");
        // Calibrated: the mean probability is near the positive rate of the pairs.
        let p = m.proba_for(&valid).unwrap();
        let rate = valid.labels().iter().sum::<f32>() / p.len() as f32;
        let mean = p.iter().sum::<f32>() / p.len() as f32;
        assert!(
            (mean - rate).abs() < 0.05,
            "{loss:?}: mean p {mean}, rate {rate}"
        );
        let (pxy, pyx) = (
            m.predict_proba(x, y).unwrap(),
            m.predict_proba(y, x).unwrap(),
        );
        assert_eq!(bits(&pxy), bits(&pyx), "{loss:?}");
    }
}

#[test]
fn fit_metric_rejects_bad_settings_with_typed_errors() {
    let train = data(50, 4);
    let mut plain = PairClassifier::builder(8, Combiner::Similarity(Similarity::Cosine))
        .head(HeadConfig::Mlp(MlpConfig::linear()))
        .build()
        .unwrap();
    let cfg = MetricConfig::new(MetricLoss::InfoNce { temperature: 0.05 });
    assert!(matches!(
        plain.fit_metric(&train, &cfg),
        Err(Error::Unsupported(_))
    ));
    let mut m = model(Similarity::Cosine);
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let cfg = MetricConfig::new(MetricLoss::Triplet { margin: bad });
        assert!(matches!(
            m.fit_metric(&train, &cfg),
            Err(Error::InvalidConfig {
                field: "margin",
                ..
            })
        ));
    }
    assert!(matches!(
        MetricConfig::new(MetricLoss::Contrastive { margin: 1.0 }).batch_size(1),
        Err(Error::InvalidConfig {
            field: "batch_size",
            ..
        })
    ));
    assert!(matches!(
        MetricConfig::new(MetricLoss::Contrastive { margin: 1.0 }).batch_size(257),
        Err(Error::InvalidConfig {
            field: "batch_size",
            ..
        })
    ));
    let narrow = PairDataset::new(
        Array2::zeros((3, 5)),
        Array2::zeros((3, 5)),
        vec![1.0, 0.0, 1.0],
    )
    .unwrap();
    assert!(matches!(
        m.fit_metric(&narrow, &cfg),
        Err(Error::WidthMismatch { .. })
    ));
    let one_class = PairDataset::new(
        Array2::zeros((3, 8)),
        Array2::ones((3, 8)),
        vec![1.0, 1.0, 1.0],
    )
    .unwrap();
    assert!(matches!(
        m.calibrate_similarity(&one_class),
        Err(Error::Undefined { .. })
    ));
    let mut mlp_head = PairClassifier::builder(8, Combiner::AbsDiff)
        .encoder(EncoderConfig::new(MlpConfig::new([4]).unwrap(), 3).unwrap())
        .build()
        .unwrap();
    assert!(matches!(
        mlp_head.calibrate_similarity(&train),
        Err(Error::Unsupported(_))
    ));
}
