//! The LanceDB search backend: one vector query with the metric, limit, prefilter, distance bound
//! and the index knobs (the user's, else the index kind's measured defaults). Rows the index does
//! not cover yet are still searched exactly by LanceDB.

use arrow_array::RecordBatch;
use futures::TryStreamExt;
use lancedb::query::{ExecutableQuery, QueryBase, Select};

use crate::store::config::Search;
use crate::store::error::{Result, StoreError};
use crate::store::index::{IndexShape, knobs};
use crate::store::metric::Metric;
use crate::store::model::Hit;
use crate::store::schema;

/// The `search.limit` rows of `table` nearest to `query` under `metric`, best first. With an index
/// (`shape`), the knobs the user left unset get the kind's measured defaults.
pub async fn search(
    table: &lancedb::Table,
    query: &[f32],
    search: &Search,
    metric: Metric,
    shape: Option<IndexShape>,
) -> Result<Vec<Hit>> {
    let max_distance = search.threshold.and_then(|t| metric.max_distance(t));
    if metric == Metric::L2 && max_distance.is_some_and(|d| d < 0.0) {
        return Ok(Vec::new()); // a score above 1 is unreachable under l2
    }
    let mut query = table
        .query()
        .nearest_to(query)
        .map_err(StoreError::lance("preparing the vector query"))?
        .distance_type(metric.distance_type())
        .limit(search.limit)
        .select(Select::columns(&[schema::ID, schema::METADATA]));
    // LanceDB prefilters by default: the filter applies before the top-k, so a filtered search
    // still returns `limit` hits when that many rows match.
    if let Some(filter) = &search.filter {
        query = query.only_if(&filter.sql);
    }
    if let Some(bound) = max_distance {
        query = query.distance_range(None, Some(exclusive_upper_bound(bound)));
    }
    if search.knobs.exact {
        query = query.bypass_vector_index();
    } else if let Some(shape) = shape {
        let knobs = knobs::resolve(&search.knobs, shape, search.limit, search.threshold.is_some());
        // A minimum, not a fixed count: LanceDB probes further when a filter leaves too few rows.
        query = query.minimum_nprobes(knobs.nprobes).map_err(StoreError::lance("setting nprobes"))?;
        if let Some(factor) = knobs.refine_factor {
            query = query.refine_factor(factor);
        }
        if let Some(ef) = knobs.ef {
            query = query.ef(ef);
        }
    }
    let stream = query.execute().await.map_err(StoreError::lance("searching"))?;
    let batches: Vec<RecordBatch> = stream.try_collect().await.map_err(StoreError::lance("reading search results"))?;
    let mut hits = schema::read_hits(&batches, metric)?;
    // The pushed-down bound is a superset (f32); the exact cut is on the score itself.
    if let Some(threshold) = search.threshold {
        hits.retain(|hit| hit.score >= threshold);
    }
    Ok(hits)
}

/// The smallest f32 strictly above `bound` (LanceDB's range is `[lower, upper)`), so rows exactly
/// at the bound are kept; the exact comparison happens on the score afterwards.
fn exclusive_upper_bound(bound: f64) -> f32 {
    let rounded = bound as f32; // rounds to nearest; stepped up below when that went down
    let at_least = if f64::from(rounded) < bound { rounded.next_up() } else { rounded };
    at_least.next_up()
}
