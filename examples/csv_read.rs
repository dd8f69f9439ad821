//! Read speed of the pairs CSV reader ([`PairsCsv`]) against plain `csv` + serde
//! deserialisation of the same rows, on one million generated rows held in memory.
//!
//! Run: `cargo run --release --example csv_read`
//!
//! The two contenders alternate within each round, so a loaded machine slows both alike;
//! compare the ratio, not the absolute figures.

use std::time::Instant;

use sympair::io::PairsCsv;

#[derive(serde::Deserialize)]
struct Row {
    i: usize,
    j: usize,
    label: f32,
}

fn serde_rows(text: &str) -> Result<Vec<(usize, usize, f32)>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    reader
        .deserialize::<Row>()
        .map(|r| r.map(|r| (r.i, r.j, r.label)))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 1_000_000;
    let mut text = String::from("i,j,label,split\n");
    for k in 0..n {
        let split = if k % 5 == 0 { "test" } else { "train" };
        text.push_str(&format!(
            "{},{},{},{split}\n",
            k % 50_000,
            (k * 7) % 50_000,
            k % 2
        ));
    }
    println!("{n} rows, {:.1} MB", text.len() as f64 / 1e6);
    let reader = PairsCsv::new();
    for round in 0..3 {
        let t = Instant::now();
        let ours = reader.parse(&text)?;
        let t_ours = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let theirs = serde_rows(&text)?;
        let t_serde = t.elapsed().as_secs_f64();
        assert_eq!(ours.len(), theirs.len());
        println!(
            "round {round}: PairsCsv {:.2} M rows/s, csv + serde {:.2} M rows/s ({:.2}x)",
            n as f64 / t_ours / 1e6,
            n as f64 / t_serde / 1e6,
            t_serde / t_ours
        );
    }
    Ok(())
}
