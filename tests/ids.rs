//! Scoring unlabelled pairs by item id: `IdScorer` and `score_pairs_csv`.

use std::cell::Cell;

use ndarray::{Array2, ArrayView2, Axis};
use sympair::ids::Precompute;
use sympair::io::PairsCsv;
use sympair::{
    Combiner, EncoderConfig, Error, IdScorer, ItemPairs, PairClassifier, ids::score_pairs_csv,
    sigmoid,
};

fn items(n: usize, d: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, d), |(r, c)| ((r * 7 + c * 3) % 11) as f32 / 5.0 - 1.0)
}

fn model(d: usize) -> PairClassifier {
    PairClassifier::builder(d, Combiner::Concat)
        .encoder(EncoderConfig::linear(4).unwrap())
        .seed(11)
        .build()
        .unwrap()
}

/// Every ordered pair `(i, j)`, `i != j`, of `n` items, in a scrambled order.
fn pairs(n: usize) -> Vec<(usize, usize)> {
    let mut p: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
        .collect();
    p.sort_by_key(|&(i, j)| (i * 31 + j * 17) % 97);
    p
}

fn gathered_logits(m: &PairClassifier, items: ArrayView2<f32>, p: &[(usize, usize)]) -> Vec<f32> {
    let (is, js): (Vec<usize>, Vec<usize>) = p.iter().copied().unzip();
    let x = items.select(Axis(0), &is);
    let y = items.select(Axis(0), &js);
    m.predict_logits(x.view(), y.view()).unwrap().to_vec()
}

#[test]
fn logits_by_id_equal_predict_logits_on_gathered_rows_for_any_chunk_size() {
    let (m, it) = (model(5), items(9, 5));
    let p = pairs(9);
    let expected = gathered_logits(&m, it.view(), &p);
    for chunk in [1, 3, 7, 72, 1000] {
        // The plain path; the per-item one is within 1e-5 (tests/precompute.rs).
        let scorer = IdScorer::new(&m, it.view())
            .unwrap()
            .with_chunk_size(chunk)
            .unwrap()
            .with_precompute(Precompute::Never)
            .unwrap();
        assert_eq!(scorer.logits(&p).unwrap(), expected, "chunk {chunk}");
        let probs: Vec<f32> = expected.iter().copied().map(sigmoid).collect();
        assert_eq!(scorer.probabilities(&p).unwrap(), probs, "chunk {chunk}");
    }
}

#[test]
fn logits_by_id_equal_logits_for_of_item_pairs_without_labels() {
    let (m, it) = (model(5), items(9, 5));
    let p: Vec<(usize, usize)> = pairs(9).into_iter().filter(|(i, j)| i < j).collect();
    let labelled = ItemPairs::new(it.clone(), p.iter().map(|&(i, j)| (i, j, 1.0))).unwrap();
    let scorer = IdScorer::new(&m, labelled.items()).unwrap();
    assert_eq!(
        scorer.logits(labelled.pairs()).unwrap(),
        m.logits_for(&labelled).unwrap()
    );
}

#[test]
fn id_out_of_range_names_its_row_in_the_whole_stream() {
    let (m, it) = (model(5), items(4, 5));
    let scorer = IdScorer::new(&m, it.view())
        .unwrap()
        .with_chunk_size(2)
        .unwrap();
    let mut p = [(0, 1); 7];
    p[5] = (2, 4);
    let mut delivered = 0;
    let err = scorer
        .for_each_chunk(p.iter().copied(), |pairs, _| {
            delivered += pairs.len();
            Ok(())
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::ItemOutOfRange {
                row: 5,
                id: 4,
                n_items: 4
            }
        ),
        "{err:?}"
    );
    assert_eq!(delivered, 4, "the two chunks before the bad one are scored");
    // `i` is checked before `j`.
    let err = scorer.logits(&[(0, 1), (9, 8)]).unwrap_err();
    assert!(
        matches!(err, Error::ItemOutOfRange { row: 1, id: 9, .. }),
        "{err:?}"
    );
}

#[test]
fn non_finite_item_names_the_item_row_even_if_no_pair_uses_it() {
    let m = model(5);
    let mut it = items(6, 5);
    it[[4, 1]] = f32::NAN;
    it[[5, 0]] = f32::INFINITY;
    let err = IdScorer::new(&m, it.view()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NonFinite {
                what: "items",
                row: 4,
                col: 1,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn wrong_width_no_items_and_zero_chunk_are_refused() {
    let m = model(5);
    let wide = items(3, 6);
    assert!(matches!(
        IdScorer::new(&m, wide.view()),
        Err(Error::WidthMismatch {
            what: "items",
            expected: 5,
            found: 6
        })
    ));
    let none = Array2::<f32>::zeros((0, 5));
    assert!(matches!(
        IdScorer::new(&m, none.view()),
        Err(Error::Empty { what: "items" })
    ));
    let it = items(3, 5);
    let scorer = IdScorer::new(&m, it.view()).unwrap();
    assert!(matches!(
        scorer.clone().with_chunk_size(0),
        Err(Error::InvalidConfig {
            field: "chunk_size",
            ..
        })
    ));
    assert_eq!(scorer.logits(&[]).unwrap(), Vec::<f32>::new());
    // A chunk size far beyond the pairs allocates for the pairs there are, not the size.
    let p = [(0, 1), (2, 1)];
    assert_eq!(
        scorer
            .clone()
            .with_chunk_size(usize::MAX)
            .unwrap()
            .logits(&p)
            .unwrap(),
        scorer.logits(&p).unwrap()
    );
}

#[test]
fn pairs_are_pulled_at_most_one_chunk_ahead_of_scoring() {
    let (m, it) = (model(5), items(9, 5));
    let scorer = IdScorer::new(&m, it.view())
        .unwrap()
        .with_chunk_size(4)
        .unwrap();
    let pulled = Cell::new(0usize);
    let stream = (0..1_000_000usize).map(|k| {
        pulled.set(pulled.get() + 1);
        (k % 9, (k + 1) % 9)
    });
    let mut scored = 0;
    let r = scorer.for_each_chunk(stream, |pairs, logits| {
        assert_eq!(pairs.len(), logits.len());
        scored += pairs.len();
        assert!(
            pulled.get() <= scored,
            "{} pulled, {scored} scored",
            pulled.get()
        );
        if scored >= 40 {
            return Err(Error::Empty { what: "stop" });
        }
        Ok(())
    });
    assert!(matches!(r, Err(Error::Empty { what: "stop" })));
    assert_eq!(scored, 40);
    assert!(pulled.get() <= 40 + 4);
}

#[test]
fn csv_stream_holds_the_probabilities_in_order() {
    let (m, it) = (model(5), items(9, 5));
    let p = pairs(9);
    let scorer = IdScorer::new(&m, it.view())
        .unwrap()
        .with_chunk_size(5)
        .unwrap();
    let mut out = Vec::new();
    assert_eq!(
        scorer.write_csv(p.iter().copied(), &mut out).unwrap(),
        p.len()
    );
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("i,j,probability"));
    let probs = scorer.probabilities(&p).unwrap();
    for ((line, &(i, j)), prob) in lines.zip(&p).zip(&probs) {
        assert_eq!(line, format!("{i},{j},{prob}"));
    }
    assert_eq!(text.lines().count(), p.len() + 1);
}

#[test]
fn pairs_csv_file_is_scored_by_column_name_with_a_filter() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("pairs.csv"), dir.path().join("scores.csv"));
    std::fs::write(
        &input,
        "source,j,i,split\nweb,1,0,new\nweb,2,0,old\napp,2,1,new\n",
    )
    .unwrap();
    let (m, it) = (model(5), items(3, 5));
    let columns = PairsCsv::new().with_filter("split", "new").unwrap();
    let n = score_pairs_csv(&m, it.view(), &input, &columns, &output).unwrap();
    assert_eq!(n, 2);
    let probs = IdScorer::new(&m, it.view())
        .unwrap()
        .probabilities(&[(0, 1), (1, 2)])
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&output).unwrap(),
        format!("i,j,probability\n0,1,{}\n1,2,{}\n", probs[0], probs[1])
    );
}

#[test]
fn bad_pairs_csv_leaves_the_output_untouched_and_names_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("pairs.csv"), dir.path().join("scores.csv"));
    std::fs::write(&output, "old").unwrap();
    let (m, it) = (model(5), items(3, 5));
    let columns = PairsCsv::new();

    std::fs::write(&input, "i,j\n0,1\n1,3\n").unwrap();
    let err = score_pairs_csv(&m, it.view(), &input, &columns, &output).unwrap_err();
    assert!(
        matches!(
            err,
            Error::ItemOutOfRange {
                row: 1,
                id: 3,
                n_items: 3
            }
        ),
        "{err:?}"
    );

    std::fs::write(&input, "i,j\n0,1\n\n1,x\n").unwrap();
    let err = score_pairs_csv(&m, it.view(), &input, &columns, &output).unwrap_err();
    assert!(matches!(err, Error::Parse { line: 4, .. }), "{err:?}");

    let missing = dir.path().join("absent.csv");
    match score_pairs_csv(&m, it.view(), &missing, &columns, &output) {
        Err(Error::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Io naming the input, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "old");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(names.len(), 2, "temporary file left behind");

    std::fs::write(&input, "i,j\n0,1\n").unwrap();
    let nowhere = dir.path().join("no-such-folder").join("scores.csv");
    match score_pairs_csv(&m, it.view(), &input, &columns, &nowhere) {
        Err(Error::Io { path, .. }) => assert_eq!(path, nowhere),
        other => panic!("expected Io naming the output, got {other:?}"),
    }
}

#[test]
fn csv_reader_to_writer_stops_at_the_first_bad_line() {
    let (m, it) = (model(5), items(3, 5));
    let scorer = IdScorer::new(&m, it.view()).unwrap();
    let input = "i,j\n0,1\n1,2\n2,zz\n0,2\n";
    let mut out = Vec::new();
    let err = scorer
        .with_chunk_size(1)
        .unwrap()
        .try_write_csv(PairsCsv::new().ids(input.as_bytes()).unwrap(), &mut out)
        .unwrap_err();
    assert!(matches!(err, Error::Parse { line: 4, .. }), "{err:?}");
    // Chunks of one pair: the two pairs before the bad line were written.
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 3);
}
