//! Pathway rules: which stands a visitor has been seen at, and whether that completes
//! the pathway. Pure, so the kiosk and the hub evaluate merged steps the same way.

use std::collections::BTreeSet;

use super::event::PathwayRule;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathwayProgress {
    /// Counted stands visited, of `rule.stands`.
    pub counted_visited: usize,
    pub counted_needed: usize,
    /// Required stands still missing (e.g. the orientation counsellor).
    pub required_missing: Vec<String>,
    pub complete: bool,
}

impl PathwayProgress {
    pub fn evaluate<'a>(rule: &PathwayRule, visited: impl IntoIterator<Item = &'a str>) -> Self {
        let visited: BTreeSet<&str> = visited.into_iter().collect();
        let counted_visited = rule
            .stands
            .iter()
            .filter(|stand| visited.contains(stand.as_str()))
            .count();
        let required_missing: Vec<String> = rule
            .required
            .iter()
            .filter(|stand| !visited.contains(stand.as_str()))
            .cloned()
            .collect();
        let complete = counted_visited >= rule.needed && required_missing.is_empty();
        Self {
            counted_visited: counted_visited.min(rule.needed),
            counted_needed: rule.needed,
            required_missing,
            complete,
        }
    }

    pub fn relevant(rule: &PathwayRule, stand: &str) -> bool {
        rule.stands.iter().chain(&rule.required).any(|s| s == stand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule() -> PathwayRule {
        PathwayRule {
            stands: vec!["a".into(), "b".into(), "c".into(), "d".into()],
            needed: 3,
            required: vec!["counsellor".into()],
        }
    }

    #[test]
    fn three_of_four_plus_counsellor() {
        let progress = PathwayProgress::evaluate(&rule(), ["a", "b"]);
        assert_eq!((progress.counted_visited, progress.complete), (2, false));
        assert_eq!(progress.required_missing, vec!["counsellor".to_string()]);
        assert!(!PathwayProgress::evaluate(&rule(), ["a", "b", "c"]).complete);
        assert!(!PathwayProgress::evaluate(&rule(), ["a", "b", "counsellor"]).complete);
        assert!(PathwayProgress::evaluate(&rule(), ["a", "b", "d", "counsellor"]).complete);
        assert!(PathwayProgress::evaluate(&rule(), ["a", "b", "c", "d", "counsellor", "zzz"]).complete);
        // Visiting one stand twice counts once.
        assert!(!PathwayProgress::evaluate(&rule(), ["a", "a", "a", "counsellor"]).complete);
    }

    #[test]
    fn relevance() {
        assert!(PathwayProgress::relevant(&rule(), "counsellor"));
        assert!(!PathwayProgress::relevant(&rule(), "zzz"));
    }
}
