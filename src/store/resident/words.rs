//! The in-memory full-text index of one `'text'` field over the resident copy's slots, so searches with
//! words are answered from memory like vector searches: each slot's tokens as the field's own LanceDB
//! tokenizer makes them (the words LanceDB's index holds), postings per token, and BM25 over the live
//! rows with lance's constants (k1 1.2, b 0.75, idf ln(1 + (N − n + 0.5) / (n + 0.5))). Plain data and
//! its upkeep as slots are filled, retired and renumbered (`columns.rs`); no I/O.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use lance_index::scalar::inverted::tokenizer::document_tokenizer::LanceTokenizer;
use lance_tokenizer::TokenStream;

use crate::store::error::{Result, StoreError};
use crate::store::fields::FieldType;

const K1: f32 = 1.2;
const B: f32 = 0.75;
/// Bytes one posting costs (slot and count), and a token's entry beyond its text.
const POSTING_BYTES: usize = 8;
const TOKEN_BYTES: usize = 64;

/// One `'text'` field's index.
pub struct WordIndex {
    /// The field's tokenizer (token streams need it mutably; searches share the index).
    tokenizer: Mutex<Box<dyn LanceTokenizer>>,
    /// Each token's (slot, occurrences) pairs, in slot order; dead slots stay until a repack.
    postings: HashMap<Box<str>, Vec<(u32, u32)>>,
    /// Tokens in each slot's text (0: no text).
    lengths: Vec<u32>,
    /// Live slots with at least one token, and their tokens: BM25's N and average length.
    live_docs: usize,
    live_tokens: u64,
    /// Postings and token bytes held, for the copy's budget.
    bytes: usize,
}

impl std::fmt::Debug for WordIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordIndex")
            .field("tokens", &self.postings.len())
            .field("slots", &self.lengths.len())
            .field("live_docs", &self.live_docs)
            .finish()
    }
}

impl WordIndex {
    /// An empty index tokenizing like `kind`'s LanceDB full-text index.
    pub fn new(kind: FieldType) -> Result<Self> {
        let params = kind
            .text_params()
            .ok_or_else(|| StoreError::Internal("a word index was asked for a field that is not text".into()))?;
        let tokenizer =
            params.build().map_err(|e| StoreError::Internal(format!("building the field's tokenizer: {e}")))?;
        Ok(Self {
            tokenizer: Mutex::new(tokenizer),
            postings: HashMap::new(),
            lengths: Vec::new(),
            live_docs: 0,
            live_tokens: 0,
            bytes: 0,
        })
    }

    /// An index of `texts` (slot by slot, from slot 0) with every slot counted live; `recount` then
    /// counts only the live ones.
    pub fn build(kind: FieldType, texts: &[Option<Box<str>>]) -> Result<Self> {
        let mut index = Self::new(kind)?;
        for (slot, text) in texts.iter().enumerate() {
            index.add(slot, text.as_deref());
        }
        Ok(index)
    }

    /// Slots indexed so far (`0..slots()`).
    pub fn slots(&self) -> usize {
        self.lengths.len()
    }

    /// Indexes `text` as the content of `slot`, a live slot at or past the last one indexed.
    pub fn add(&mut self, slot: usize, text: Option<&str>) {
        if slot < self.lengths.len() {
            return; // indexed already (a slot's text never changes)
        }
        self.lengths.resize(slot + 1, 0);
        let Some(text) = text else { return };
        let Ok(slot_number) = u32::try_from(slot) else { return };
        let mut counts: HashMap<String, u32> = HashMap::new();
        let mut length = 0u32;
        {
            let mut tokenizer = self.tokenizer.lock().unwrap_or_else(PoisonError::into_inner);
            let mut stream = tokenizer.token_stream_for_doc(text);
            while stream.advance() {
                let token = &stream.token().text;
                match counts.get_mut(token.as_str()) {
                    Some(count) => *count += 1,
                    None => {
                        counts.insert(token.clone(), 1);
                    }
                }
                length += 1;
            }
        }
        for (token, count) in counts {
            if let Some(list) = self.postings.get_mut(token.as_str()) {
                list.push((slot_number, count));
            } else {
                self.bytes += TOKEN_BYTES + token.len();
                self.postings.insert(token.into_boxed_str(), vec![(slot_number, count)]);
            }
            self.bytes += POSTING_BYTES;
        }
        if let Some(cell) = self.lengths.get_mut(slot) {
            *cell = length;
        }
        if length > 0 {
            self.live_docs += 1;
            self.live_tokens += u64::from(length);
        }
    }

    /// Takes `slot` (which was live) out of BM25's counts; its postings go at the next repack.
    pub fn retire(&mut self, slot: usize) {
        let length = self.lengths.get(slot).copied().unwrap_or(0);
        if length > 0 {
            self.live_docs = self.live_docs.saturating_sub(1);
            self.live_tokens = self.live_tokens.saturating_sub(u64::from(length));
        }
    }

    /// Counts BM25's N and total length again over the slots `live` marks.
    pub fn recount(&mut self, live: &[bool]) {
        let live_lengths = self.lengths.iter().zip(live).filter(|(length, live)| **live && **length > 0);
        let (docs, tokens) = live_lengths.fold((0, 0u64), |(d, t), (length, _)| (d + 1, t + u64::from(*length)));
        self.live_docs = docs;
        self.live_tokens = tokens;
    }

    /// Follows the copy's repack: slot `s` becomes `renumber[s]`, or is gone when `None`.
    pub fn repack(&mut self, renumber: &[Option<u32>]) {
        let new_slot = |slot: u32| renumber.get(slot as usize).copied().flatten();
        let mut bytes = 0;
        self.postings.retain(|token, list| {
            list.retain_mut(|(slot, _)| match new_slot(*slot) {
                Some(new) => {
                    *slot = new;
                    true
                }
                None => false,
            });
            list.shrink_to_fit();
            bytes += TOKEN_BYTES + token.len() + POSTING_BYTES * list.len();
            !list.is_empty()
        });
        let kept = renumber.iter().flatten().count();
        let mut lengths = vec![0; kept];
        for (old, new) in renumber.iter().enumerate() {
            if let (Some(new), Some(&length)) = (new, self.lengths.get(old))
                && let Some(cell) = lengths.get_mut(*new as usize)
            {
                *cell = length;
            }
        }
        self.lengths = lengths;
        self.bytes = bytes;
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes + 4 * self.lengths.len()
    }

    /// The `limit` live slots (and, with `selected`, selected ones) whose text best matches `text` under
    /// BM25, best first, with their scores; ties in slot order. A token the query repeats counts as often
    /// as it occurs there (as in LanceDB's query).
    pub fn search(&self, text: &str, live: &[bool], selected: Option<&[bool]>, limit: usize) -> Vec<(u32, f32)> {
        let mut terms: Vec<(String, f32)> = Vec::new();
        {
            let mut tokenizer = self.tokenizer.lock().unwrap_or_else(PoisonError::into_inner);
            let mut stream = tokenizer.token_stream_for_search(text);
            while stream.advance() {
                let token = &stream.token().text;
                match terms.iter_mut().find(|(term, _)| term == token) {
                    Some((_, times)) => *times += 1.0,
                    None => terms.push((token.clone(), 1.0)),
                }
            }
        }
        if self.live_docs == 0 || limit == 0 {
            return Vec::new();
        }
        let docs = self.live_docs as f32;
        let average = self.live_tokens as f32 / docs;
        let is_live = |slot: u32| live.get(slot as usize).copied().unwrap_or(false);
        let is_selected = |slot: u32| selected.is_none_or(|s| s.get(slot as usize).copied().unwrap_or(false));
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (term, times) in &terms {
            let Some(list) = self.postings.get(term.as_str()) else { continue };
            let containing = list.iter().filter(|(slot, _)| is_live(*slot)).count();
            if containing == 0 {
                continue;
            }
            let containing = containing as f32;
            let weight = times * ((docs - containing + 0.5) / (containing + 0.5) + 1.0).ln();
            for &(slot, count) in list {
                if !is_live(slot) || !is_selected(slot) {
                    continue;
                }
                let length = self.lengths.get(slot as usize).copied().unwrap_or(0) as f32;
                let norm = K1 * (1.0 - B + B * length / average);
                let count = count as f32;
                *scores.entry(slot).or_default() += weight * (K1 + 1.0) * count / (count + norm);
            }
        }
        let mut ranked: Vec<(u32, f32)> = scores.into_iter().collect();
        let by_score = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if ranked.len() > limit {
            ranked.select_nth_unstable_by(limit - 1, by_score);
            ranked.truncate(limit);
        }
        ranked.sort_unstable_by(by_score);
        ranked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::fields::TextLanguage;

    fn index(texts: &[&str]) -> WordIndex {
        let texts: Vec<Option<Box<str>>> = texts.iter().map(|t| Some((*t).into())).collect();
        WordIndex::build(FieldType::Text(TextLanguage::ENGLISH), &texts).unwrap()
    }

    #[test]
    fn words_are_stemmed_stop_words_dropped_and_scored_by_bm25() {
        let texts = ["the apple pie", "apples and pears", "a banana", "apple apple apple tart with cream"];
        let index = index(&texts);
        let live = vec![true; texts.len()];
        let hits = index.search("Apples", &live, None, 10);
        let slots: Vec<u32> = hits.iter().map(|h| h.0).collect();
        assert_eq!(slots, [3, 0, 1], "stemmed and lower-cased; more occurrences first, ties in slot order");
        // BM25 by hand for slot 0: N = 4 docs of 2 + 2 + 1 + 5 tokens ("the", "and", "a", "with" are stop
        // words), 3 of them hold "appl".
        let idf = ((4.0f32 - 3.0 + 0.5) / (3.0 + 0.5) + 1.0).ln();
        let expected = idf * 2.2 / (1.0 + 1.2 * (0.25 + 0.75 * 2.0 / 2.5));
        assert!((hits[1].1 - expected).abs() < 1e-6, "{} vs {expected}", hits[1].1);
        assert!(index.search("the and", &live, None, 10).is_empty(), "stop words find nothing");
        assert!(index.search("zebra", &live, None, 10).is_empty());
        assert_eq!(index.search("apple banana", &live, None, 2).len(), 2, "limit");
        let twice = index.search("apple apple", &live, None, 10);
        assert!((twice[1].1 - 2.0 * expected).abs() < 1e-5, "a repeated query word counts twice, as in LanceDB");
    }

    #[test]
    fn retired_unselected_and_repacked_slots_follow_the_copy() {
        let mut index = index(&["red apple", "green apple", "apple", "blue sky"]);
        let mut live = vec![true; 4];
        index.retire(1);
        live[1] = false;
        let hits = index.search("apple", &live, None, 10);
        assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), [2, 0], "a retired slot is never found");
        let selected = [true, true, false, true];
        assert_eq!(index.search("apple", &live, Some(&selected), 10).iter().map(|h| h.0).collect::<Vec<_>>(), [0]);
        // Slot 1 dropped, 2 → 1, 3 → 2: the same rows, the same scores.
        let before = index.search("apple sky", &live, None, 10);
        index.repack(&[Some(0), None, Some(1), Some(2)]);
        let after = index.search("apple sky", &[true; 3], None, 10);
        assert_eq!(after.len(), before.len());
        let renumbered = |slot: u32| [0, u32::MAX, 1, 2][slot as usize];
        for ((a_slot, a_score), (b_slot, b_score)) in after.iter().zip(&before) {
            assert_eq!(*a_slot, renumbered(*b_slot));
            assert!((a_score - b_score).abs() < 1e-6);
        }
        index.add(3, Some("sky"));
        assert_eq!(index.search("sky", &[true; 4], None, 1)[0].0, 3, "the shorter text ranks first");
        index.recount(&[true, true, true, false]);
        assert_eq!(index.search("sky", &[true, true, true, false], None, 10).len(), 1);
    }
}
