//! What to send, decided purely from the queue's state; and what an answer means for
//! each record. The executor only carries these decisions out.

use super::protocol::{RecordAnswer, RecordStatus};

/// A queued record as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub sequence: u64,
    pub size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub sequences: Vec<u64>,
}

/// Splits pending records (oldest first) into batches of at most `max_records` and
/// roughly `max_bytes` of record data, so the hub can answer each within its limits.
pub fn plan_batches(pending: &[Pending], max_records: usize, max_bytes: usize) -> Vec<Batch> {
    let mut batches = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for record in pending {
        // Hex doubles the size; the JSON envelope adds a little.
        let cost = record.size * 2 + 8;
        if !current.is_empty() && (current.len() >= max_records.max(1) || bytes + cost > max_bytes) {
            batches.push(Batch {
                sequences: std::mem::take(&mut current),
            });
            bytes = 0;
        }
        current.push(record.sequence);
        bytes += cost;
    }
    if !current.is_empty() {
        batches.push(Batch { sequences: current });
    }
    batches
}

/// What to do with one record after an upload attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// The hub has it: mark synced.
    Synced,
    /// Refused for good: keep it, marked failed with the reason, for the organiser.
    Failed(String),
    /// No answer for it: stays queued and is sent again.
    Retry(String),
}

/// Maps the hub's per-record answers onto the batch. A record the hub did not answer
/// for stays queued: records are only marked synced on the hub's explicit word.
pub fn dispositions(batch: &Batch, answers: &[RecordAnswer]) -> Vec<(u64, Disposition)> {
    batch
        .sequences
        .iter()
        .map(|sequence| {
            let answer = answers.iter().find(|answer| answer.sequence == *sequence);
            let disposition = match answer {
                Some(RecordAnswer {
                    status: RecordStatus::Accepted | RecordStatus::Duplicate,
                    ..
                }) => Disposition::Synced,
                Some(RecordAnswer {
                    status: RecordStatus::Rejected,
                    reason,
                    ..
                }) => Disposition::Failed(reason.clone().unwrap_or_else(|| "refused by the hub".into())),
                None => Disposition::Retry("the hub did not answer for this record".into()),
            };
            (*sequence, disposition)
        })
        .collect()
}

/// Retries back off the same way everywhere (sync, claim emails, badge platforms).
pub use crate::backoff::Backoff;

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(n: u64, size: usize) -> Vec<Pending> {
        (1..=n).map(|sequence| Pending { sequence, size }).collect()
    }

    #[test]
    fn batches_respect_count_and_size() {
        let batches = plan_batches(&pending(1_001, 150), 500, usize::MAX);
        assert_eq!(
            batches.iter().map(|b| b.sequences.len()).collect::<Vec<_>>(),
            vec![500, 500, 1]
        );
        assert_eq!(batches[2].sequences, vec![1_001]);
        let batches = plan_batches(&pending(10, 1_000), 500, 4_100);
        assert!(batches.iter().all(|b| b.sequences.len() == 2));
        // A single record larger than the limit still goes, alone.
        assert_eq!(plan_batches(&pending(1, 10_000), 500, 100).len(), 1);
        assert!(plan_batches(&[], 500, 100).is_empty());
    }

    #[test]
    fn only_explicit_answers_mark_synced() {
        let batch = Batch {
            sequences: vec![1, 2, 3, 4],
        };
        let answers = vec![
            RecordAnswer {
                sequence: 1,
                status: RecordStatus::Accepted,
                reason: None,
                email_received: false,
            },
            RecordAnswer {
                sequence: 2,
                status: RecordStatus::Duplicate,
                reason: None,
                email_received: false,
            },
            RecordAnswer {
                sequence: 3,
                status: RecordStatus::Rejected,
                reason: Some("bad signature".into()),
                email_received: false,
            },
            RecordAnswer {
                sequence: 99,
                status: RecordStatus::Accepted,
                reason: None,
                email_received: false,
            },
        ];
        let result = dispositions(&batch, &answers);
        assert_eq!(result[0], (1, Disposition::Synced));
        assert_eq!(result[1], (2, Disposition::Synced));
        assert_eq!(result[2], (3, Disposition::Failed("bad signature".into())));
        assert!(matches!(result[3], (4, Disposition::Retry(_))));
    }
}
