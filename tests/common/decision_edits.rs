//! Edits that make the `decision` object of a saved model or ensemble invalid (threshold,
//! rule, calibration, shape): each must be refused by the loader with `Error::Format`.

use serde_json::json;

/// An edit of a file's `decision` object.
pub type Edit = Box<dyn Fn(&mut serde_json::Value)>;

/// Named edits, each of which makes the decision invalid.
pub fn invalid_decision_edits() -> Vec<(&'static str, Edit)> {
    vec![
        (
            "threshold 0",
            Box::new(|d| d["threshold"]["probability"] = json!(0.0)),
        ),
        (
            "threshold 1.5",
            Box::new(|d| d["threshold"]["probability"] = json!(1.5)),
        ),
        (
            "threshold -0.2",
            Box::new(|d| d["threshold"]["probability"] = json!(-0.2)),
        ),
        (
            "threshold null",
            Box::new(|d| d["threshold"]["probability"] = json!(null)),
        ),
        (
            "threshold 1e300",
            Box::new(|d| d["threshold"]["probability"] = json!(1e300)),
        ),
        (
            "rule precision 0",
            Box::new(|d| d["threshold"]["rule"] = json!({"target_precision": 0.0})),
        ),
        (
            "rule precision 2",
            Box::new(|d| d["threshold"]["rule"] = json!({"target_precision": 2.0})),
        ),
        (
            "unknown rule",
            Box::new(|d| d["threshold"]["rule"] = json!("max_magic")),
        ),
        (
            "platt a 0",
            Box::new(|d| d["calibration"]["platt"]["a"] = json!(0.0)),
        ),
        (
            "platt a -1",
            Box::new(|d| d["calibration"]["platt"]["a"] = json!(-1.0)),
        ),
        (
            "platt a 1e39 (inf in f32)",
            Box::new(|d| d["calibration"]["platt"]["a"] = json!(1e39)),
        ),
        (
            "platt b null",
            Box::new(|d| d["calibration"]["platt"]["b"] = json!(null)),
        ),
        (
            "temperature 0",
            Box::new(|d| d["calibration"] = json!({"temperature": {"t": 0.0}})),
        ),
        (
            "temperature -2",
            Box::new(|d| d["calibration"] = json!({"temperature": {"t": -2.0}})),
        ),
        (
            "unknown method",
            Box::new(|d| d["calibration"] = json!({"isotonic": {}})),
        ),
        ("extra field", Box::new(|d| d["bias"] = json!(1.0))),
        ("not an object", Box::new(|d| *d = json!(0.5))),
    ]
}
