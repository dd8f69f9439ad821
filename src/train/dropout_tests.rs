//! Gradient check of training with head and encoder dropout: with the masks fixed (same
//! seed, epoch, batch and slice), the backward pass is the exact gradient of the dropped
//! forward pass.

use super::*;
use crate::activation::Activation;
use crate::combiner::Combiner;
use crate::mlp::MlpConfig;
use crate::model::EncoderConfig;
use crate::synth::ClusterTask;

/// Loss and gradient of one batch over all of `data` with the given dropout rates (the
/// masks of seed 7, epoch 0, batch 0).
fn batch_loss_grad(
    m: &PairClassifier<Combiner>,
    data: &dyn PairData,
    head: f32,
    encoder: f32,
) -> (f64, Vec<f32>) {
    let n = data.len();
    let spec = LossSpec {
        pos_weight: 1.0,
        consistency: 0.0,
        swap_augment: true,
        bce_scale: 1.0 / (2 * n) as f32,
        pen_scale: 1.0 / n as f32,
        input: regularise::InputReg {
            noise: 0.0,
            dropout: 0.0,
        },
        head_dropout: head,
        encoder_dropout: encoder,
        seed: 7,
        epoch: 0,
        batch: 0,
    };
    let idx: Vec<usize> = (0..n).collect();
    let mut slots = m.train_slots(n, true);
    let mut total = m.zero_grads();
    let (bce, _) = m
        .batch_gradient(data, &idx, &spec, &mut slots, &mut total)
        .expect("finite data");
    (bce * f64::from(spec.bce_scale), m.flat_grads(&total))
}

#[test]
fn dropout_gradient_matches_finite_differences_with_fixed_masks() {
    let data = ClusterTask::new(4, 2)
        .expect("task")
        .generate(40, 1)
        .expect("pairs");
    let tanh = |h: Vec<usize>| {
        MlpConfig::new(h)
            .expect("widths")
            .with_activation(Activation::Tanh)
    };
    for combiner in [Combiner::Product, Combiner::ConcatSwapAverage] {
        let mut m = PairClassifier::builder(4, combiner.clone())
            .encoder(EncoderConfig::new(tanh(vec![6]), 3).expect("encoder"))
            .mlp_head(tanh(vec![5]))
            .seed(2)
            .build()
            .expect("model");
        let (_, plain) = batch_loss_grad(&m, &data, 0.0, 0.0);
        let (_, ana) = batch_loss_grad(&m, &data, 0.4, 0.3);
        assert_ne!(plain, ana, "{combiner}: the masks change the gradient");
        let theta = m.flat_params();
        let h = 1e-2f32;
        let mut worst = 0.0f64;
        for k in 0..theta.len() {
            let mut at = |delta: f32| {
                let mut t = theta.clone();
                t[k] += delta;
                m.set_flat_params(&t);
                batch_loss_grad(&m, &data, 0.4, 0.3).0
            };
            let num = (at(h) - at(-h)) / (2.0 * f64::from(h));
            let err =
                (num - f64::from(ana[k])).abs() / (1e-3 + num.abs().max(f64::from(ana[k]).abs()));
            worst = worst.max(err);
            assert!(
                err < 2e-2,
                "{combiner}: parameter {k}: numeric {num}, analytic {}",
                ana[k]
            );
        }
        m.set_flat_params(&theta);
        assert!(worst.is_finite());
    }
}
