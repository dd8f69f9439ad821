//! Writes the seed corpus for the `load_and_predict` fuzz target: one small saved model
//! per combiner, head and encoder variant, into `fuzz/corpus/load_and_predict/` (or the
//! folder given as the first argument):
//! `cargo run --manifest-path fuzz/Cargo.toml --example make_seeds`.

use sympair::{
    Activation, ClusterTask, Combiner, EncoderConfig, HeadConfig, MlpConfig, PairClassifier,
    Similarity, Stack, TrainConfig,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/corpus/load_and_predict").to_owned()
    });
    std::fs::create_dir_all(&dir)?;
    let d = 4;
    let small = MlpConfig::new([3])?;
    let mut models: Vec<(String, PairClassifier)> = Vec::new();
    let mut combiners: Vec<Combiner> = Combiner::builtins().into();
    combiners.extend(
        [
            Similarity::Cosine,
            Similarity::Dot,
            Similarity::NegL1,
            Similarity::NegSquaredL2,
        ]
        .map(Combiner::Similarity),
    );
    combiners.push(Combiner::Stack(Stack::new(vec![
        Combiner::Sum,
        Combiner::AbsDiff,
        Combiner::Similarity(Similarity::Cosine),
    ])?));
    for c in combiners {
        let name = c.to_string();
        let model = PairClassifier::builder(d, c)
            .mlp_head(small.clone())
            .seed(1)
            .build()?;
        models.push((name, model));
    }
    // A trained model (weights away from their initial values), a linear head, an encoder
    // with a smooth activation, and the two distance heads.
    let task = ClusterTask::new(d, 3)?;
    let mut trained = PairClassifier::builder(d, Combiner::ConcatSwapAverage)
        .mlp_head(small.clone())
        .build()?;
    trained.fit(
        &task.generate(64, 1)?,
        None,
        &TrainConfig::new().with_epochs(2),
    )?;
    models.push(("trained_concat_swap".into(), trained));
    models.push((
        "linear_head_max".into(),
        PairClassifier::builder(d, Combiner::Max)
            .mlp_head(MlpConfig::linear())
            .build()?,
    ));
    models.push((
        "encoder_gelu_product".into(),
        PairClassifier::builder(d, Combiner::Product)
            .encoder(EncoderConfig::new(
                MlpConfig::new([3])?.with_activation(Activation::Gelu),
                2,
            )?)
            .mlp_head(MlpConfig::new([2])?.with_activation(Activation::Tanh))
            .build()?,
    ));
    models.push((
        "distance_squared_diff".into(),
        PairClassifier::builder(d, Combiner::SquaredDiff)
            .encoder(EncoderConfig::linear(2)?)
            .head(HeadConfig::Distance { learn_scale: true })
            .build()?,
    ));
    models.push((
        "distance_abs_diff_leaky".into(),
        PairClassifier::builder(d, Combiner::AbsDiff)
            .encoder(EncoderConfig::new(
                MlpConfig::new([2])?.with_activation(Activation::LeakyRelu),
                2,
            )?)
            .head(HeadConfig::Distance { learn_scale: false })
            .build()?,
    ));
    for (name, model) in &models {
        let path =
            std::path::Path::new(&dir).join(format!("{}.json", name.replace(['[', ']', '+'], "_")));
        std::fs::write(&path, model.to_json_bytes()?)?;
    }
    println!("wrote {} seed models to {dir}", models.len());
    Ok(())
}
