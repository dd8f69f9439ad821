//! Canonical candidate pairs: each unordered pair once, no self-pairs.

use proptest::prelude::*;
use std::collections::BTreeSet;
use sympair::blocking::{Canonical, Dropped, canonical, canonicalize};

proptest! {
    #[test]
    fn canonicalize_keeps_each_unordered_pair_once_and_no_self_pair(
        pairs in prop::collection::vec((0usize..12, 0usize..12), 0..60),
    ) {
        let want: BTreeSet<(usize, usize)> =
            pairs.iter().filter(|p| p.0 != p.1).map(|&(i, j)| (i.min(j), i.max(j))).collect();
        let self_pairs = pairs.iter().filter(|p| p.0 == p.1).count();

        let mut v = pairs.clone();
        let dropped = canonicalize(&mut v);
        prop_assert_eq!(&v, &want.iter().copied().collect::<Vec<_>>());
        prop_assert_eq!(dropped, Dropped { self_pairs, repeats: pairs.len() - self_pairs - want.len() });

        // The stream keeps the same set, in order of first appearance.
        let mut it = Canonical::new(pairs.clone());
        let streamed: Vec<_> = it.by_ref().collect();
        prop_assert_eq!(streamed.iter().copied().collect::<BTreeSet<_>>(), want);
        prop_assert_eq!(streamed.len(), v.len());
        let first: Vec<_> = pairs.iter().filter_map(|&(i, j)| canonical(i, j)).fold(Vec::new(), |mut acc, p| {
            if !acc.contains(&p) { acc.push(p); }
            acc
        });
        prop_assert_eq!(streamed, first);
        prop_assert_eq!(it.dropped(), dropped);
    }
}

#[test]
fn canonical_orders_the_pair_and_rejects_self_pairs() {
    assert_eq!(canonical(0, 1), Some((0, 1)));
    assert_eq!(canonical(9, 1), Some((1, 9)));
    assert_eq!(canonical(4, 4), None);
}
