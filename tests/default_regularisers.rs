//! The regulariser defaults of `TrainConfig` are the measured ones
//! (`cargo run --release --example regularisers`): Gaussian input noise 0.2 (relative to the inputs' spread), every other
//! regulariser off.

use sympair::{LrSchedule, TrainConfig};

#[test]
fn default_config_has_input_noise_and_no_other_regulariser() {
    let cfg = TrainConfig::new();
    assert_eq!(cfg, TrainConfig::default());
    assert_eq!(cfg.input_noise(), 0.2);
    assert_eq!(cfg.input_dropout(), 0.0);
    assert_eq!(cfg.head_dropout(), 0.0);
    assert_eq!(cfg.encoder_dropout(), 0.0);
    assert_eq!(cfg.grad_clip(), None);
    assert_eq!(cfg.lr_schedule(), &LrSchedule::Constant);
    assert!(cfg.check().is_ok());
}
