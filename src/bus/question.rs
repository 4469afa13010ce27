//! Pre-loaded answers for tools that ask the user questions.

use std::collections::VecDeque;
use std::sync::Mutex;

/// A FIFO of answer batches (`push_answers`); each question call takes one
/// batch, one answer list per question.
#[derive(Debug, Default)]
pub struct QuestionManager {
    batches: Mutex<VecDeque<Vec<Vec<String>>>>,
}

impl QuestionManager {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues one batch of answers.
    pub fn push_answers(&self, batch: Vec<Vec<String>>) {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(batch);
    }

    /// Takes the oldest batch, if any.
    pub fn take_answers(&self) -> Option<Vec<Vec<String>>> {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop_front()
    }

    /// How many batches are queued.
    pub fn queued(&self) -> usize {
        self.batches
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_come_out_in_order() {
        let qm = QuestionManager::new();
        assert_eq!(qm.take_answers(), None);
        qm.push_answers(vec![vec!["yes".into()]]);
        qm.push_answers(vec![vec!["a".into(), "b".into()], vec![]]);
        assert_eq!(qm.queued(), 2);
        assert_eq!(qm.take_answers(), Some(vec![vec!["yes".into()]]));
        assert_eq!(
            qm.take_answers(),
            Some(vec![vec!["a".into(), "b".into()], vec![]])
        );
        assert_eq!(qm.take_answers(), None);
    }
}
