//! The prompts and the one mapping from the session's view to a prompt.

use madoguchi_session::view_model::{MoneyState, Screen, ViewModel};
use std::fmt;

/// Everything the kiosk can say. The id names the WAV file in every language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// "Place your card on the reader."
    PlaceCard,
    /// "Enter your PIN."
    EnterPin,
    /// "Remove your card from the reader" (mid-session: the flow goes on once it is gone).
    RemoveCard,
    /// "Insert the fee."
    InsertMoney,
    /// "Take your certificate."
    TakeDocuments,
    /// "Take your certificate and your change."
    TakeDocumentsChange,
    /// "Do not forget your card; take your card."
    TakeCard,
    /// "Your money is returned; take it."
    TakeRefund,
}

impl Prompt {
    pub const ALL: [Prompt; 8] = [
        Prompt::PlaceCard,
        Prompt::EnterPin,
        Prompt::RemoveCard,
        Prompt::InsertMoney,
        Prompt::TakeDocuments,
        Prompt::TakeDocumentsChange,
        Prompt::TakeCard,
        Prompt::TakeRefund,
    ];

    /// The prompt's id: its file name (without `.wav`) and its name in result.json.
    pub const fn id(self) -> &'static str {
        match self {
            Prompt::PlaceCard => "place-card",
            Prompt::EnterPin => "enter-pin",
            Prompt::RemoveCard => "remove-card",
            Prompt::InsertMoney => "insert-money",
            Prompt::TakeDocuments => "take-documents",
            Prompt::TakeDocumentsChange => "take-documents-change",
            Prompt::TakeCard => "take-card",
            Prompt::TakeRefund => "take-refund",
        }
    }

    pub fn from_id(id: &str) -> Option<Prompt> {
        Prompt::ALL.into_iter().find(|p| p.id() == id)
    }
}

impl fmt::Display for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// The prompt a view calls for, if any: the one place that decides what the kiosk says.
///
/// It reads the session's view, not the UI: a screen the session shows for a new reason (a
/// refund on the failure screen, change with the documents) says so without a slint change.
pub fn prompt_for(v: &ViewModel) -> Option<Prompt> {
    let refund = v
        .failure
        .as_ref()
        .is_some_and(|f| matches!(f.money, MoneyState::Returning { .. } | MoneyState::Returned { .. }));
    match v.screen {
        Screen::PlaceCard => Some(Prompt::PlaceCard),
        Screen::PinEntry => Some(Prompt::EnterPin),
        Screen::RemoveCard => Some(Prompt::RemoveCard),
        Screen::Payment => Some(Prompt::InsertMoney),
        Screen::TakeDocuments if v.payment.change_yen > 0 => Some(Prompt::TakeDocumentsChange),
        Screen::TakeDocuments => Some(Prompt::TakeDocuments),
        // The card is still on the reader at the end, or a PIN reset ended with it there.
        Screen::TakeCard | Screen::PinResetDone => Some(Prompt::TakeCard),
        Screen::Failure | Screen::CertificateProblem if refund => Some(Prompt::TakeRefund),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madoguchi_session::view_model::{Failure, FailureCode, Language, Payment};

    fn view(screen: Screen) -> ViewModel {
        ViewModel::new(screen, Language::Ja)
    }

    #[test]
    fn every_reminder_of_the_brief_has_a_screen() {
        let said: Vec<Option<Prompt>> = Screen::ALL.iter().map(|s| prompt_for(&view(*s))).collect();
        for p in [
            Prompt::PlaceCard,
            Prompt::EnterPin,
            Prompt::RemoveCard,
            Prompt::InsertMoney,
            Prompt::TakeDocuments,
            Prompt::TakeCard,
        ] {
            assert!(said.contains(&Some(p)), "no screen says {p}");
        }
        // Screens where the resident only waits or chooses stay quiet.
        for s in [Screen::Idle, Screen::ReadingCard, Screen::Authenticating, Screen::Printing, Screen::ChooseDocument] {
            assert_eq!(prompt_for(&view(s)), None, "{s}");
        }
    }

    #[test]
    fn change_and_refund_follow_the_view_not_the_screen() {
        let mut v = view(Screen::TakeDocuments);
        v.payment = Payment { inserted_yen: 1000, change_yen: 700 };
        assert_eq!(prompt_for(&v), Some(Prompt::TakeDocumentsChange));
        let mut f = view(Screen::Failure);
        assert_eq!(prompt_for(&f), None);
        f.failure = Some(Failure {
            code: FailureCode::ALL[0],
            money: MoneyState::Returning { yen: 300 },
            reference: String::new(),
            pages_printed: 0,
        });
        assert_eq!(prompt_for(&f), Some(Prompt::TakeRefund));
        f.failure.as_mut().unwrap().money = MoneyState::Owed { yen: 300 };
        assert_eq!(prompt_for(&f), None, "money the unit could not give back is not there to take");
    }

    #[test]
    fn ids_round_trip() {
        for p in Prompt::ALL {
            assert_eq!(Prompt::from_id(p.id()), Some(p));
        }
        assert_eq!(Prompt::from_id("nope"), None);
    }
}
