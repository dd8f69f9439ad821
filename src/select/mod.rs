//! Model selection that survives small data: item-grouped k-fold cross-validation over a
//! small search space, then a refit on all training pairs. See [`cross_validate`].
//!
//! A single validation carve-out of a few thousand pairs ranks configurations noisily;
//! averaging the validation ROC AUC over `k` item-disjoint folds
//! ([`ItemPairs::item_folds`]) makes the ranking, and the number of epochs, much more
//! reliable. The chosen configuration is then trained once more on *every* training pair
//! (no pair is wasted on validation) for the number of epochs the folds agreed on.

use std::fmt;
use std::time::{Duration, Instant};

use crate::combiner::Combiner;
use crate::error::{Error, Result};
use crate::indexed::ItemPairs;
use crate::mlp::MlpConfig;
use crate::model::{EncoderConfig, PairClassifier};
use crate::optim::Optimizer;
use crate::train::{Control, EpochStats, TrainConfig};

mod ensemble;

pub use ensemble::Ensemble;

/// One configuration to try: a combiner, the head's hidden widths and a training
/// configuration whose `epochs` is the *largest* number of epochs tried (every shorter
/// run is scored on the way, from the same fits).
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Short description printed in the table.
    pub label: String,
    /// The combiner of the model.
    pub combiner: Combiner,
    /// The shared encoder applied to each item before the combiner, if any.
    pub encoder: Option<EncoderConfig>,
    /// The MLP head.
    pub head: MlpConfig,
    /// How to train; `epochs()` is the largest number of epochs scored.
    pub train: TrainConfig,
}

/// The configurations [`cross_validate`] tries, in order.
///
/// [`SearchSpace::default`] is the documented default space (4 candidates, Adam, batch
/// 256; every number of epochs up to the maximum is scored from the same fits; "stack" is
/// `stack[sum+product+abs_diff]`; hd, ed, id: head, encoder and input dropout; no weight
/// decay or input noise):
///
/// | combiner | encoder | head hidden | hd | ed | id | learning rate | epochs (max) |
/// |---|---|---|---|---|---|---|---|
/// | concat_swap_average | none | `[64]` | 0 | 0 | 0 | 1e-3 | 20 |
/// | concat_swap_average | none | `[256]` | 0.5 | 0 | 0.2 | 1e-3 | 20 |
/// | stack | MLP `[512]` -> 128 | `[64]` | 0.3 | 0.5 | 0.2 | 1e-3 | 12 |
/// | stack | MLP `[256]` -> 128 | `[64]` | 0.3 | 0.5 | 0.2 | 3e-4 | 12 |
///
/// The first is the unregularised reference. On the item-disjoint split of the packages
/// data (README, "Real data: packages") dropout raised the mean fold ROC AUC of the
/// concat + swap-average head from 0.847 to 0.867 and of the siamese encoder from 0.855
/// to 0.869; weight decay 1e-2 in place of head dropout gave 0.864 against 0.864 (not
/// kept); input noise was not tried in the space. Encoders fit the training items within
/// a few epochs, hence their shorter runs.
///
/// Build others with [`SearchSpace::grid`] or [`SearchSpace::new`]; every regulariser of
/// [`TrainConfig`] (dropout, input noise, weight decay, schedules) enters through the
/// candidates' `train` field and shows in the table.
#[derive(Clone, Debug, PartialEq)]
pub struct SearchSpace {
    candidates: Vec<Candidate>,
}

impl SearchSpace {
    /// A space of explicit candidates. Errors: no candidate, or an invalid `train`
    /// configuration (naming the candidate).
    pub fn new(candidates: Vec<Candidate>) -> Result<Self> {
        if candidates.is_empty() {
            return Err(Error::Empty {
                what: "search space (no candidate)",
            });
        }
        for c in &candidates {
            c.train.check()?;
        }
        Ok(SearchSpace { candidates })
    }

    /// Every combination of `combiners x hidden widths x learning rates x weight decays`,
    /// each trained with Adam, batch `batch_size`, for up to `max_epochs` epochs, on top
    /// of `base` (its other settings, e.g. seed, are kept). Errors: an empty list, a
    /// hidden width of 0, or an invalid resulting training configuration.
    pub fn grid(
        combiners: &[Combiner],
        hidden: &[Vec<usize>],
        learning_rates: &[f32],
        weight_decays: &[f32],
        batch_size: usize,
        max_epochs: usize,
        base: &TrainConfig,
    ) -> Result<Self> {
        let mut candidates = Vec::new();
        for combiner in combiners {
            for h in hidden {
                let head = MlpConfig::new(h.clone())?;
                for &lr in learning_rates {
                    for &wd in weight_decays {
                        let train = base
                            .clone()
                            .with_optimizer(Optimizer::adam(lr))
                            .with_weight_decay(wd)
                            .with_batch_size(batch_size)
                            .with_epochs(max_epochs);
                        candidates.push(Candidate {
                            label: format!("{combiner} h={h:?} lr={lr:e} wd={wd:e}"),
                            combiner: combiner.clone(),
                            encoder: None,
                            head: head.clone(),
                            train,
                        });
                    }
                }
            }
        }
        Self::new(candidates)
    }

    /// The candidates, in the order they are tried.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }
}

impl Default for SearchSpace {
    fn default() -> Self {
        let stack = |parts| {
            Combiner::Stack(
                crate::combiner::Stack::new(parts).expect("built-in element-wise combiners stack"),
            )
        };
        // The space was measured without input noise (TrainConfig's default is 0.2).
        let adam = |lr: f32, epochs: usize| {
            TrainConfig::new()
                .with_optimizer(Optimizer::adam(lr))
                .with_batch_size(256)
                .with_epochs(epochs)
                .with_input_noise(0.0)
        };
        let h64 = || MlpConfig::new(vec![64]).expect("hidden width 64 is valid");
        let siamese = || {
            Some(
                EncoderConfig::new(
                    MlpConfig::new(vec![256]).expect("hidden width 256 is valid"),
                    128,
                )
                .expect("encoder output 128 is valid"),
            )
        };
        let elementwise = || stack(vec![Combiner::Sum, Combiner::Product, Combiner::AbsDiff]);
        let head = |w: usize| MlpConfig::new(vec![w]).expect("hidden width is valid");
        let candidates = vec![
            Candidate {
                label: "concat_swap_average h=[64] lr=1e-3".into(),
                combiner: Combiner::ConcatSwapAverage,
                encoder: None,
                head: h64(),
                train: adam(1e-3, 20),
            },
            Candidate {
                label: "concat_swap_average h=[256] lr=1e-3".into(),
                combiner: Combiner::ConcatSwapAverage,
                encoder: None,
                head: head(256),
                train: adam(1e-3, 20)
                    .with_head_dropout(0.5)
                    .with_input_dropout(0.2),
            },
            Candidate {
                label: "encoder[512]->128 + stack h=[64] lr=1e-3".into(),
                combiner: elementwise(),
                encoder: Some(
                    EncoderConfig::new(
                        MlpConfig::new(vec![512]).expect("hidden width 512 is valid"),
                        128,
                    )
                    .expect("encoder output 128 is valid"),
                ),
                head: h64(),
                train: adam(1e-3, 12)
                    .with_head_dropout(0.3)
                    .with_encoder_dropout(0.5)
                    .with_input_dropout(0.2),
            },
            Candidate {
                label: "encoder[256]->128 + stack h=[64] lr=3e-4".into(),
                combiner: elementwise(),
                encoder: siamese(),
                head: h64(),
                train: adam(3e-4, 12)
                    .with_head_dropout(0.3)
                    .with_encoder_dropout(0.5)
                    .with_input_dropout(0.2),
            },
        ];
        Self::new(candidates).expect("the default search space is valid")
    }
}

/// Settings of [`cross_validate`] (default: 5 folds, fold seed 0, model seed 0, a single
/// refit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectConfig {
    folds: usize,
    fold_seed: u64,
    model_seed: u64,
    ensemble: usize,
}

impl Default for SelectConfig {
    fn default() -> Self {
        SelectConfig {
            folds: 5,
            fold_seed: 0,
            model_seed: 0,
            ensemble: 1,
        }
    }
}

impl SelectConfig {
    /// The defaults: 5 folds, fold seed 0, model seed 0, a single refit.
    pub fn new() -> Self {
        Self::default()
    }
    /// Refit the chosen candidate `k` times on all training pairs, refit `j` with model
    /// seed `model_seed + j` and training seed `seed + j`, and return them as a seed
    /// [`Ensemble`] in [`Selection::ensemble`] (default 1: no ensemble; at least 1,
    /// checked by [`cross_validate`]). Costs `k` refits; cross-validation is unchanged
    /// (the ensemble is not what the folds scored).
    pub fn with_ensemble(mut self, k: usize) -> Self {
        self.ensemble = k;
        self
    }
    /// Number of refits averaged (1: no ensemble).
    pub fn ensemble(&self) -> usize {
        self.ensemble
    }
    /// Number of item-grouped folds (at least 2; checked by [`cross_validate`]).
    pub fn with_folds(mut self, folds: usize) -> Self {
        self.folds = folds;
        self
    }
    /// Seed that deals the items into folds.
    pub fn with_fold_seed(mut self, seed: u64) -> Self {
        self.fold_seed = seed;
        self
    }
    /// Seed of the weight initialisation of every fit (folds and refit).
    pub fn with_model_seed(mut self, seed: u64) -> Self {
        self.model_seed = seed;
        self
    }
    /// Number of folds.
    pub fn folds(&self) -> usize {
        self.folds
    }
}

/// One row of the table of what was tried.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// The candidate's label.
    pub label: String,
    /// Mean over folds of the validation ROC AUC after [`epochs`](Self::epochs) epochs.
    pub mean_auc: f64,
    /// Standard deviation over folds (population) of that AUC.
    pub std_auc: f64,
    /// Chosen number of epochs: the one with the best mean fold AUC.
    pub epochs: usize,
    /// Each fold's validation AUC after `epochs` epochs.
    pub fold_aucs: Vec<f64>,
    /// Mean over folds of the last epoch's training loss (a low value next to a modest AUC
    /// shows overfitting).
    pub mean_train_loss: f64,
    /// Wall-clock time of the candidate's fold fits.
    pub time: Duration,
    /// The candidate's regularisers, for the table: head, encoder and input dropout,
    /// input noise and weight decay.
    pub regularisers: Regularisers,
}

/// The regularisers of a candidate's training configuration, as shown in the table of
/// [`Selection`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Regularisers {
    /// [`TrainConfig::head_dropout`].
    pub head_dropout: f32,
    /// [`TrainConfig::encoder_dropout`].
    pub encoder_dropout: f32,
    /// [`TrainConfig::input_dropout`].
    pub input_dropout: f32,
    /// [`TrainConfig::input_noise`].
    pub input_noise: f32,
    /// [`TrainConfig::weight_decay`].
    pub weight_decay: f32,
}

impl Regularisers {
    /// The regularisers of `train`.
    pub fn of(train: &TrainConfig) -> Self {
        Regularisers {
            head_dropout: train.head_dropout(),
            encoder_dropout: train.encoder_dropout(),
            input_dropout: train.input_dropout(),
            input_noise: train.input_noise(),
            weight_decay: train.weight_decay(),
        }
    }
}

/// What [`cross_validate`] returns.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The chosen configuration refitted on all training pairs.
    pub model: PairClassifier<Combiner>,
    /// The chosen candidate, with `train.epochs()` set to the refit's epochs.
    pub chosen: Candidate,
    /// Index of the chosen candidate in [`table`](Self::table) and the search space.
    pub best: usize,
    /// One row per candidate, in search order.
    pub table: Vec<Trial>,
    /// Pairs dropped from each fold because they straddle its held-out items.
    pub cross_pairs_dropped: Vec<usize>,
    /// Wall-clock time of the refit (of every refit with an ensemble).
    pub refit_time: Duration,
    /// With [`SelectConfig::with_ensemble`]`(k)`, `k > 1`: the `k` refits, the first being
    /// [`model`](Self::model), averaged in logit space.
    pub ensemble: Option<Ensemble>,
}

/// The table of what was tried, one row per candidate, `*` marking the chosen one;
/// columns `hd`, `ed`, `id`, `in`, `wd` are the head, encoder and input dropout, the input
/// noise and the weight decay of the candidate.
impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The label column fits the longest label (at least 46 wide).
        let w = self
            .table
            .iter()
            .map(|t| t.label.chars().count() + 2)
            .fold(46, usize::max);
        writeln!(
            f,
            "{:<3}{:<w$}{:>6}{:>6}{:>6}{:>6}{:>7}{:>9}{:>8}{:>7}{:>11}{:>8}",
            "",
            "candidate",
            "hd",
            "ed",
            "id",
            "in",
            "wd",
            "mean AUC",
            "std",
            "epochs",
            "train loss",
            "time s"
        )?;
        for (k, t) in self.table.iter().enumerate() {
            let r = &t.regularisers;
            writeln!(
                f,
                "{:<3}{:<w$}{:>6}{:>6}{:>6}{:>6}{:>7}{:>9.4}{:>8.4}{:>7}{:>11.4}{:>8.1}",
                if k == self.best { "*" } else { "" },
                t.label,
                r.head_dropout,
                r.encoder_dropout,
                r.input_dropout,
                r.input_noise,
                r.weight_decay,
                t.mean_auc,
                t.std_auc,
                t.epochs,
                t.mean_train_loss,
                t.time.as_secs_f64()
            )?;
        }
        Ok(())
    }
}

/// Progress of [`cross_validate`], reported after every fold fit and after the refit.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Progress {
    /// A fold fit finished.
    Fold {
        /// Candidate index.
        candidate: usize,
        /// Number of candidates.
        n_candidates: usize,
        /// Fold index.
        fold: usize,
        /// Number of folds.
        n_folds: usize,
        /// Best validation AUC of this fold fit over its epochs.
        best_auc: f64,
        /// Time since the selection started.
        elapsed: Duration,
    },
    /// The refit on all training pairs finished.
    Refit {
        /// Chosen candidate index.
        candidate: usize,
        /// Epochs of the refit.
        epochs: usize,
        /// Time since the selection started.
        elapsed: Duration,
    },
}

/// Receives [`Progress`] reports. Closures `FnMut(&Progress)` implement it; `()` ignores
/// them.
pub trait SelectObserver {
    /// Sees one report.
    fn on_progress(&mut self, progress: &Progress);
}

impl<F: FnMut(&Progress)> SelectObserver for F {
    fn on_progress(&mut self, progress: &Progress) {
        self(progress)
    }
}

impl SelectObserver for () {
    fn on_progress(&mut self, _progress: &Progress) {}
}

/// Item-grouped k-fold cross-validation of every candidate of `space` on `data`, then a
/// refit of the best on all of `data`.
///
/// For each candidate and fold ([`ItemPairs::item_folds`]), a model is built (seed
/// `config`'s model seed) and trained on the fold's training pairs for the candidate's
/// `epochs()`, its validation ROC AUC recorded after every epoch. The candidate's score is
/// the best, over epochs `e`, of the mean fold AUC after `e` epochs; that `e` is its chosen
/// number of epochs. The candidate with the highest score (the first on ties) is trained
/// again on all of `data` for its chosen epochs and returned with the table.
///
/// Folds run one after the other on the calling rayon pool (training parallelises each
/// batch already), so the result is bitwise reproducible and independent of the number of
/// threads. `observer` receives a [`Progress`] after each fit. Nothing here looks at a
/// test set: pass only training pairs.
///
/// # Errors
///
/// An invalid fold count or a fold without pairs (see [`ItemPairs::item_folds`]); a fold
/// whose validation pairs hold one class only ([`Error::Empty`]); any error of building or
/// training a model, e.g. [`Error::Diverged`].
///
/// # Example
///
/// ```
/// use sympair::select::{cross_validate, SearchSpace, SelectConfig};
/// use sympair::{Combiner, ItemPairs, TrainConfig};
///
/// let items = ndarray::Array2::from_shape_fn((30, 8), |(r, c)| ((r % 3 == c % 3) as u8) as f32 + 0.01 * (r * c) as f32);
/// let pairs = (0..30).flat_map(|i| (i + 1..30).map(move |j| (i, j, (i % 3 == j % 3) as u8 as f32)));
/// let data = ItemPairs::new(items, pairs)?;
/// let space = SearchSpace::grid(&[Combiner::Product, Combiner::AbsDiff], &[vec![8]], &[1e-2], &[0.0], 32, 3, &TrainConfig::new())?;
/// let sel = cross_validate(&data, &space, &SelectConfig::new().with_folds(3), &mut ())?;
/// assert_eq!(sel.table.len(), 2);
/// assert!(sel.chosen.train.epochs() >= 1);
/// # Ok::<(), sympair::Error>(())
/// ```
pub fn cross_validate(
    data: &ItemPairs,
    space: &SearchSpace,
    config: &SelectConfig,
    observer: &mut dyn SelectObserver,
) -> Result<Selection> {
    let start = Instant::now();
    if config.ensemble == 0 {
        return Err(Error::config("ensemble", "must be at least 1"));
    }
    let folds = data.item_folds(config.folds, config.fold_seed)?;
    let n_folds = folds.len();
    let n_candidates = space.candidates.len();
    let mut table = Vec::with_capacity(n_candidates);
    for (ci, cand) in space.candidates.iter().enumerate() {
        let t0 = Instant::now();
        // curves[f][e]: validation AUC of fold f after epoch e.
        let mut curves: Vec<Vec<f64>> = Vec::with_capacity(n_folds);
        let mut train_losses = Vec::with_capacity(n_folds);
        for (fi, fold) in folds.iter().enumerate() {
            let mut model = build(cand, data.items().ncols(), config.model_seed)?;
            let mut curve = Vec::with_capacity(cand.train.epochs());
            let mut auc_missing = false;
            let mut record = |s: &EpochStats| {
                match s.valid_auc {
                    Some(a) => curve.push(a),
                    None => auc_missing = true,
                }
                Control::Continue
            };
            let history =
                model.fit_observed(&fold.train, Some(&fold.valid), &cand.train, &mut record)?;
            if auc_missing {
                return Err(Error::Empty {
                    what: "one class in a fold's validation pairs (no ROC AUC); use fewer folds",
                });
            }
            train_losses.push(history.epochs.last().map_or(f64::NAN, |e| e.train_loss));
            let best_auc = curve.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            observer.on_progress(&Progress::Fold {
                candidate: ci,
                n_candidates,
                fold: fi,
                n_folds,
                best_auc,
                elapsed: start.elapsed(),
            });
            curves.push(curve);
        }
        table.push(score(cand, &curves, &train_losses, t0.elapsed()));
    }
    // First maximum of the mean AUC.
    let best = table.iter().enumerate().fold(
        0,
        |b, (k, t)| if t.mean_auc > table[b].mean_auc { k } else { b },
    );
    let mut chosen = space.candidates[best].clone();
    chosen.train = chosen.train.clone().with_epochs(table[best].epochs);
    let t0 = Instant::now();
    let mut model = build(&chosen, data.items().ncols(), config.model_seed)?;
    model.fit(data, None, &chosen.train)?;
    let ensemble = if config.ensemble > 1 {
        let mut members = vec![model.clone()];
        for j in 1..config.ensemble as u64 {
            let mut m = build(
                &chosen,
                data.items().ncols(),
                config.model_seed.wrapping_add(j),
            )?;
            let train = chosen
                .train
                .clone()
                .with_seed(chosen.train.seed().wrapping_add(j));
            m.fit(data, None, &train)?;
            members.push(m);
        }
        Some(Ensemble::new(members)?)
    } else {
        None
    };
    let refit_time = t0.elapsed();
    observer.on_progress(&Progress::Refit {
        candidate: best,
        epochs: chosen.train.epochs(),
        elapsed: start.elapsed(),
    });
    Ok(Selection {
        model,
        chosen,
        best,
        table,
        cross_pairs_dropped: folds.iter().map(|f| f.cross_pairs_dropped).collect(),
        refit_time,
        ensemble,
    })
}

/// A fresh model of candidate `cand` for items of width `d`.
fn build(cand: &Candidate, d: usize, seed: u64) -> Result<PairClassifier<Combiner>> {
    let mut builder = PairClassifier::builder(d, cand.combiner.clone())
        .mlp_head(cand.head.clone())
        .seed(seed);
    if let Some(enc) = &cand.encoder {
        builder = builder.encoder(enc.clone());
    }
    builder.build()
}

/// The table row of one candidate from its per-fold validation AUC curves.
fn score(cand: &Candidate, curves: &[Vec<f64>], train_losses: &[f64], time: Duration) -> Trial {
    // Early stopping by an observer could shorten a curve; score the common length.
    let len = curves.iter().map(Vec::len).min().unwrap_or(0);
    let n = curves.len().max(1) as f64;
    let mean_at = |e: usize| curves.iter().map(|c| c[e]).sum::<f64>() / n;
    let e_best = (0..len).fold(0, |b, e| if mean_at(e) > mean_at(b) { e } else { b });
    let fold_aucs: Vec<f64> = curves
        .iter()
        .map(|c| c.get(e_best).copied().unwrap_or(f64::NAN))
        .collect();
    let mean = fold_aucs.iter().sum::<f64>() / n;
    let var = fold_aucs
        .iter()
        .map(|a| (a - mean) * (a - mean))
        .sum::<f64>()
        / n;
    Trial {
        label: cand.label.clone(),
        mean_auc: mean,
        std_auc: var.sqrt(),
        epochs: e_best + 1,
        fold_aucs,
        mean_train_loss: train_losses.iter().sum::<f64>() / n,
        time,
        regularisers: Regularisers::of(&cand.train),
    }
}
