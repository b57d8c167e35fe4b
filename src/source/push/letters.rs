//! What a frame's refusals become in `dead_letters`, bounded whatever the frame holds:
//! up to `ELEMENT_LETTERS` refused elements are kept one dead letter each; past that the
//! frame is kept once, as a `frame_rejected` dead letter whose detail counts the
//! refusals per reason and shows the first few, and whose raw is the frame cut to
//! `DeadLetter::MAX_RAW_BYTES`. Rate-limited frames are sampled: at most one dead letter
//! per connection per second, counting the frames refused since the previous one.

use std::time::{Duration, Instant};

use crate::record::{DeadLetter, RejectReason, Rejection};

/// Refused elements of one frame kept as dead letters of their own; more make one
/// `frame_rejected` letter for the whole frame.
pub const ELEMENT_LETTERS: usize = 10;
/// Refusals shown in a `frame_rejected` letter's detail.
const SHOWN_IN_DETAIL: usize = 5;
/// Characters of each refusal shown in that detail.
const SHOWN_CHARS: usize = 200;

/// The dead-letterable refusals of one frame, bounded in memory by `ELEMENT_LETTERS`.
#[derive(Debug, Default)]
pub struct FrameRefusals {
    total: usize,
    /// Count per reason (a fixed, small set).
    by_reason: Vec<(RejectReason, usize)>,
    /// The first refused elements: index and dead letter.
    first: Vec<(usize, DeadLetter)>,
}

impl FrameRefusals {
    pub fn add(&mut self, source: &str, index: usize, rejection: &Rejection, raw: &str) {
        self.total += 1;
        match self.by_reason.iter_mut().find(|(code, _)| *code == rejection.code) {
            Some((_, count)) => *count += 1,
            None => self.by_reason.push((rejection.code, 1)),
        }
        if self.first.len() < ELEMENT_LETTERS {
            self.first.push((index, DeadLetter::new(source, rejection.code.as_str(), rejection.detail.clone(), raw)));
        }
    }

    /// The dead letters to keep: each refused element's, or one for the whole frame.
    pub fn into_letters(self, source: &str, frame: &str, elements: usize) -> Vec<DeadLetter> {
        if self.total <= ELEMENT_LETTERS {
            return self.first.into_iter().map(|(_, letter)| letter).collect();
        }
        let counts: Vec<String> = self.by_reason.iter().map(|(code, count)| format!("{code} × {count}")).collect();
        let shown: Vec<String> = self
            .first
            .iter()
            .take(SHOWN_IN_DETAIL)
            .map(|(index, letter)| format!("#{index} {}: {}", letter.reason, letter.detail.chars().take(SHOWN_CHARS).collect::<String>()))
            .collect();
        let detail = format!(
            "{} of the frame's {elements} elements were refused ({}); the first: {}",
            self.total,
            counts.join(", "),
            shown.join("; ")
        );
        vec![DeadLetter::new(source, "frame_rejected", detail, frame)]
    }
}

/// One connection's sampling of rate-limited frames.
#[derive(Debug, Default)]
pub struct RateLimitSamples {
    sampled_at: Option<Instant>,
    refused_since: u64,
}

impl RateLimitSamples {
    const EVERY: Duration = Duration::from_secs(1);

    /// Notes a refused frame; `Some(frames refused since the last sample, this one
    /// included)` when this one is to be kept.
    pub fn refused(&mut self, now: Instant) -> Option<u64> {
        self.refused_since += 1;
        let due = self.sampled_at.is_none_or(|at| now.saturating_duration_since(at) >= Self::EVERY);
        if !due {
            return None;
        }
        self.sampled_at = Some(now);
        Some(std::mem::take(&mut self.refused_since))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_refusals_are_kept_one_by_one_and_many_as_one_letter() {
        let rejection = Rejection::new(RejectReason::NotAnObject, "expected a JSON object, got a number");
        let mut few = FrameRefusals::default();
        for index in 0..ELEMENT_LETTERS {
            few.add("push", index, &rejection, "0");
        }
        assert_eq!(few.into_letters("push", "[0]", 10).len(), ELEMENT_LETTERS);

        let frame = format!("[{}0]", "0,".repeat(200_000));
        let mut many = FrameRefusals::default();
        for index in 0..200_001 {
            many.add("push", index, &rejection, "0");
        }
        many.add("push", 200_001, &Rejection::new(RejectReason::MissingType, "the object has no `type` field"), "{}");
        let letters = many.into_letters("push", &frame, 200_002);
        assert_eq!(letters.len(), 1);
        let letter = &letters[0];
        assert_eq!(letter.reason, "frame_rejected");
        assert!(
            letter.detail.starts_with("200002 of the frame's 200002 elements were refused (not_an_object × 200001, missing_type × 1)"),
            "{}",
            letter.detail
        );
        assert!(letter.detail.contains("#0 not_an_object: expected a JSON object"), "{}", letter.detail);
        assert!(letter.raw.len() < DeadLetter::MAX_RAW_BYTES + 100);
        assert!(letter.detail.contains(&format!("of {} bytes", frame.len())), "{}", letter.detail);
    }

    #[test]
    fn rate_limited_frames_are_sampled_once_a_second_with_a_count() {
        let start = Instant::now();
        let mut samples = RateLimitSamples::default();
        assert_eq!(samples.refused(start), Some(1));
        for step in 1..100 {
            assert_eq!(samples.refused(start + Duration::from_millis(step * 5)), None);
        }
        assert_eq!(samples.refused(start + Duration::from_secs(1)), Some(100));
        assert_eq!(samples.refused(start + Duration::from_millis(1_500)), None);
    }
}
