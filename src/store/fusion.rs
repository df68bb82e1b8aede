//! Reciprocal rank fusion: the two ranked lists of a hybrid search (nearest vectors, best BM25 matches)
//! merged into one. A row at rank `r` (from 1) on a side adds `1 / (k + r)` to its score, so rows both
//! sides rank well come first, whatever the scale of each side's own scores. Pure; knows no backend.

use std::collections::HashMap;

use super::model::{Hit, Sides};

/// `vector` and `text` (each best first) fused under constant `k`, best first: each hit's `score` is its
/// fused score, `sides` its ranks (and BM25 score), `distance` the vector distance when the vector side
/// found it, else `NaN` for the caller to fill. Ties go to the better vector rank, then the better words
/// rank, then the id, so the order is the same on every run.
pub fn fuse(vector: Vec<Hit>, text: Vec<Hit>, k: u32) -> Vec<Hit> {
    let contribution = |rank: usize| 1.0 / (f64::from(k) + rank as f64);
    let mut fused: Vec<Hit> = Vec::with_capacity(vector.len() + text.len());
    let mut position: HashMap<String, usize> = HashMap::with_capacity(vector.len() + text.len());
    for (i, hit) in vector.into_iter().enumerate() {
        if position.contains_key(&hit.id) {
            continue; // each side lists a row once; keep the better rank if not
        }
        position.insert(hit.id.clone(), fused.len());
        let sides = Sides { vector_rank: u32::try_from(i + 1).ok(), ..Sides::default() };
        fused.push(Hit { score: contribution(i + 1), sides: Some(sides), ..hit });
    }
    for (i, hit) in text.into_iter().enumerate() {
        let rank = u32::try_from(i + 1).ok();
        let text_score = hit.sides.and_then(|s| s.text_score);
        match position.get(&hit.id) {
            Some(&at) => {
                if let Some(row) = fused.get_mut(at)
                    && let Some(sides) = row.sides.as_mut().filter(|s| s.text_rank.is_none())
                {
                    sides.text_rank = rank;
                    sides.text_score = text_score;
                    row.score += contribution(i + 1);
                }
            }
            None => {
                position.insert(hit.id.clone(), fused.len());
                let sides = Sides { vector_rank: None, text_rank: rank, text_score };
                fused.push(Hit { score: contribution(i + 1), distance: f64::NAN, sides: Some(sides), ..hit });
            }
        }
    }
    let rank_of = |hit: &Hit, side: fn(&Sides) -> Option<u32>| hit.sides.as_ref().and_then(side).unwrap_or(u32::MAX);
    fused.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| rank_of(a, |s| s.vector_rank).cmp(&rank_of(b, |s| s.vector_rank)))
            .then_with(|| rank_of(a, |s| s.text_rank).cmp(&rank_of(b, |s| s.text_rank)))
            .then_with(|| a.id.cmp(&b.id))
    });
    fused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(id: &str, distance: f64) -> Hit {
        Hit { id: id.into(), score: 1.0 - distance, distance, metadata: None, sides: None }
    }

    fn text_hit(id: &str, bm25: f64) -> Hit {
        Hit {
            id: id.into(),
            score: bm25,
            distance: 0.0,
            metadata: Some(format!(r#"{{"id":"{id}"}}"#)),
            sides: Some(Sides { text_score: Some(bm25), ..Sides::default() }),
        }
    }

    #[test]
    fn rows_both_sides_rank_well_come_first_with_reciprocal_rank_scores() {
        let vector = vec![hit("a", 0.1), hit("b", 0.2), hit("c", 0.3)];
        let text = vec![text_hit("c", 9.0), text_hit("d", 5.0), text_hit("a", 1.0)];
        let fused = fuse(vector, text, 60);
        let ids: Vec<&str> = fused.iter().map(|h| h.id.as_str()).collect();
        // a: 1/61 + 1/63, c: 1/63 + 1/61 (equal: a wins on its vector rank), b: 1/62, d: 1/62 (b wins, vector rank).
        assert_eq!(ids, ["a", "c", "b", "d"]);
        assert!((fused[0].score - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-12);
        assert_eq!(fused[0].sides, Some(Sides { vector_rank: Some(1), text_rank: Some(3), text_score: Some(1.0) }));
        assert_eq!(fused[3].sides, Some(Sides { vector_rank: None, text_rank: Some(2), text_score: Some(5.0) }));
        assert!(fused[3].distance.is_nan(), "the words-only row's distance is left to the caller");
        assert_eq!(fused[1].distance, 0.3, "a vector row keeps its distance");
        assert_eq!(fused[3].metadata.as_deref(), Some(r#"{"id":"d"}"#));
    }

    #[test]
    fn a_small_k_lets_the_top_of_one_side_win() {
        let vector = vec![hit("v1", 0.1), hit("both", 0.2)];
        let text = vec![text_hit("t1", 3.0), text_hit("both", 2.0)];
        let with = |k| fuse(vector.clone(), text.clone(), k).into_iter().map(|h| h.id).collect::<Vec<_>>();
        assert_eq!(with(60)[0], "both", "1/62 + 1/62 beats 1/61");
        assert_eq!(with(0), ["v1", "both", "t1"], "k = 0: all three score 1; ties go to the vector rank");
    }

    #[test]
    fn one_empty_side_keeps_the_other_in_order() {
        let fused = fuse(Vec::new(), vec![text_hit("x", 2.0), text_hit("y", 1.0)], 60);
        assert_eq!(fused.iter().map(|h| h.id.as_str()).collect::<Vec<_>>(), ["x", "y"]);
        assert!(fuse(Vec::new(), Vec::new(), 60).is_empty());
    }
}
