//! The one catalogue of resident-facing failure messages, keyed by [`FailureCode`] (in the manner
//! of AusweisApp's failure codes): for each, what happened, what to do, and, from the money
//! actually moved, whether the resident was charged. Texts exist in `ja` and `en`; another
//! language is added as one more `(code, Text)` pair per entry, and lookups fall back to `en`,
//! then `ja`.
//!
//! The codes are stable ids (kebab case): scenario files, logs, the UI and support staff use
//! them, so one never changes meaning.

use std::fmt;

/// Why a transaction ended without the resident's documents (or with a certificate problem).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureCode {
    Cancelled,
    ScreenTimeout,
    SessionTimeout,
    CardRemoved,
    CardSwapped,
    ReaderFault,
    CardUnreadable,
    CardNotSupported,
    JukiCard,
    CertificateExpired,
    CertificateNotYetValid,
    CertificateRevoked,
    CertificateSuspended,
    CertificateUntrusted,
    CertificateUnlinked,
    AuthenticationFailed,
    PinBlocked,
    PhoneNotReady,
    BackendUnavailable,
    BackendRefused,
    NotEligible,
    OutsideHours,
    NothingOffered,
    CatalogInvalid,
    DocumentInvalid,
    DocumentMismatch,
    CashJam,
    CashUnavailable,
    PrinterUnavailable,
    PrinterPaperOut,
    PrinterJam,
    PrinterFault,
    ClockFault,
    Internal,
}

impl FailureCode {
    pub const ALL: [FailureCode; 34] = [
        FailureCode::Cancelled,
        FailureCode::ScreenTimeout,
        FailureCode::SessionTimeout,
        FailureCode::CardRemoved,
        FailureCode::CardSwapped,
        FailureCode::ReaderFault,
        FailureCode::CardUnreadable,
        FailureCode::CardNotSupported,
        FailureCode::JukiCard,
        FailureCode::CertificateExpired,
        FailureCode::CertificateNotYetValid,
        FailureCode::CertificateRevoked,
        FailureCode::CertificateSuspended,
        FailureCode::CertificateUntrusted,
        FailureCode::CertificateUnlinked,
        FailureCode::AuthenticationFailed,
        FailureCode::PinBlocked,
        FailureCode::PhoneNotReady,
        FailureCode::BackendUnavailable,
        FailureCode::BackendRefused,
        FailureCode::NotEligible,
        FailureCode::OutsideHours,
        FailureCode::NothingOffered,
        FailureCode::CatalogInvalid,
        FailureCode::DocumentInvalid,
        FailureCode::DocumentMismatch,
        FailureCode::CashJam,
        FailureCode::CashUnavailable,
        FailureCode::PrinterUnavailable,
        FailureCode::PrinterPaperOut,
        FailureCode::PrinterJam,
        FailureCode::PrinterFault,
        FailureCode::ClockFault,
        FailureCode::Internal,
    ];

    /// The stable id.
    pub const fn id(self) -> &'static str {
        match self {
            FailureCode::Cancelled => "cancelled",
            FailureCode::ScreenTimeout => "screen-timeout",
            FailureCode::SessionTimeout => "session-timeout",
            FailureCode::CardRemoved => "card-removed",
            FailureCode::CardSwapped => "card-swapped",
            FailureCode::ReaderFault => "reader-fault",
            FailureCode::CardUnreadable => "card-unreadable",
            FailureCode::CardNotSupported => "card-not-supported",
            FailureCode::JukiCard => "juki-card",
            FailureCode::CertificateExpired => "certificate-expired",
            FailureCode::CertificateNotYetValid => "certificate-not-yet-valid",
            FailureCode::CertificateRevoked => "certificate-revoked",
            FailureCode::CertificateSuspended => "certificate-suspended",
            FailureCode::CertificateUntrusted => "certificate-untrusted",
            FailureCode::CertificateUnlinked => "certificate-unlinked",
            FailureCode::AuthenticationFailed => "authentication-failed",
            FailureCode::PinBlocked => "pin-blocked",
            FailureCode::PhoneNotReady => "phone-not-ready",
            FailureCode::BackendUnavailable => "backend-unavailable",
            FailureCode::BackendRefused => "backend-refused",
            FailureCode::NotEligible => "not-eligible",
            FailureCode::OutsideHours => "outside-hours",
            FailureCode::NothingOffered => "nothing-offered",
            FailureCode::CatalogInvalid => "catalog-invalid",
            FailureCode::DocumentInvalid => "document-invalid",
            FailureCode::DocumentMismatch => "document-mismatch",
            FailureCode::CashJam => "cash-jam",
            FailureCode::CashUnavailable => "cash-unavailable",
            FailureCode::PrinterUnavailable => "printer-unavailable",
            FailureCode::PrinterPaperOut => "printer-paper-out",
            FailureCode::PrinterJam => "printer-jam",
            FailureCode::PrinterFault => "printer-fault",
            FailureCode::ClockFault => "clock-fault",
            FailureCode::Internal => "internal",
        }
    }

    pub fn from_id(id: &str) -> Option<FailureCode> {
        FailureCode::ALL.into_iter().find(|c| c.id() == id)
    }

    /// Shown on the `certificate-problem` screen rather than `failure`.
    pub const fn is_certificate_problem(self) -> bool {
        matches!(
            self,
            FailureCode::CertificateExpired
                | FailureCode::CertificateNotYetValid
                | FailureCode::CertificateRevoked
                | FailureCode::CertificateSuspended
                | FailureCode::PinBlocked
        )
    }
}

impl fmt::Display for FailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What happened to the resident's money, from what the cash unit actually did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoneyState {
    /// Nothing was inserted.
    NotCharged,
    /// A refund is on its way out of the unit.
    Returning { yen: u32 },
    /// Everything inserted was given back.
    Returned { yen: u32 },
    /// The unit could not give this much back: staff settle it (it is in the audit log).
    Owed { yen: u32 },
}

/// One message in one language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    pub title: &'static str,
    pub what: &'static str,
    pub todo: &'static str,
}

/// A message ready to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentMessage {
    pub title: String,
    /// What happened.
    pub what: String,
    /// Whether money was taken, and where it is.
    pub money: String,
    /// What to do now.
    pub todo: String,
}

struct Entry {
    code: FailureCode,
    texts: &'static [(&'static str, Text)],
}

const fn t(title: &'static str, what: &'static str, todo: &'static str) -> Text {
    Text { title, what, todo }
}

const RETRY_JA: &str = "もう一度最初からお手続きください。";
const RETRY_EN: &str = "Please start again from the beginning.";
const STAFF_JA: &str = "店員にお知らせいただくか、別の端末をご利用ください。";
const STAFF_EN: &str = "Please tell a member of staff, or use another machine.";
const CITY_JA: &str = "お住まいの市区町村の窓口にご相談ください。";
const CITY_EN: &str = "Please ask at your municipal office.";

#[rustfmt::skip]
static CATALOGUE: &[Entry] = &[
    Entry { code: FailureCode::Cancelled, texts: &[
        ("ja", t("手続きを取り消しました", "ご操作により手続きを取り消しました。", "続けて別の手続きをすることもできます。")),
        ("en", t("Cancelled", "You cancelled the request.", "You can start a new request.")),
    ]},
    Entry { code: FailureCode::ScreenTimeout, texts: &[
        ("ja", t("時間切れのため中止しました", "しばらく操作がなかったため、安全のため手続きを中止しました。", RETRY_JA)),
        ("en", t("Stopped: no input for a while", "There was no input for a while, so the request was stopped for your safety.", RETRY_EN)),
    ]},
    Entry { code: FailureCode::SessionTimeout, texts: &[
        ("ja", t("制限時間を過ぎました", "手続き全体の制限時間を過ぎたため、中止しました。", RETRY_JA)),
        ("en", t("Time limit reached", "The request took longer than the time allowed and was stopped.", RETRY_EN)),
    ]},
    Entry { code: FailureCode::CardRemoved, texts: &[
        ("ja", t("カードが読み取り機から離れました", "手続きの途中でカードまたはスマートフォンが読み取り機から離れたため、中止しました。", "もう一度最初からお手続きください。案内があるまでカードは置いたままにしてください。")),
        ("en", t("The card left the reader", "The card or phone was taken off the reader before the kiosk had finished with it, so the request was stopped.", "Please start again, and leave the card on the reader until the screen asks you to take it.")),
    ]},
    Entry { code: FailureCode::CardSwapped, texts: &[
        ("ja", t("別のカードに替わりました", "手続きの途中で別のカードまたはスマートフォンに替わったため、安全のため中止しました。", "ご本人のカード1枚だけで、最初からお手続きください。")),
        ("en", t("A different card was placed", "A different card or phone was placed during the request, so it was stopped for your safety.", "Please start again with your own card only.")),
    ]},
    Entry { code: FailureCode::ReaderFault, texts: &[
        ("ja", t("カード読み取り機の異常", "カード読み取り機が応答しなくなりました。", STAFF_JA)),
        ("en", t("Card reader fault", "The card reader stopped responding.", STAFF_EN)),
    ]},
    Entry { code: FailureCode::CardUnreadable, texts: &[
        ("ja", t("カードを読み取れませんでした", "カードまたはスマートフォンを正しく読み取れませんでした。", "読み取り機の中央に置き直して、もう一度お試しください。続く場合は市区町村の窓口にご相談ください。")),
        ("en", t("The card could not be read", "The card or phone could not be read correctly.", "Place it in the middle of the reader and try again. If it keeps happening, please ask at your municipal office.")),
    ]},
    Entry { code: FailureCode::CardNotSupported, texts: &[
        ("ja", t("このカードは使えません", "マイナンバーカードではないか、利用者証明用電子証明書が搭載されていません。", "マイナンバーカードをお使いください。電子証明書は市区町村の窓口で発行できます。")),
        ("en", t("This card cannot be used", "This is not a My Number Card, or it holds no user-authentication certificate.", "Please use your My Number Card. Certificates are issued at your municipal office.")),
    ]},
    Entry { code: FailureCode::JukiCard, texts: &[
        ("ja", t("住民基本台帳カードは使えません", "住民基本台帳カードではコンビニ交付を利用できません。", "マイナンバーカードをお使いください。")),
        ("en", t("Juki cards cannot be used", "The old Basic Resident Register card (Juki card) is no longer accepted.", "Please use your My Number Card.")),
    ]},
    Entry { code: FailureCode::CertificateExpired, texts: &[
        ("ja", t("電子証明書の有効期限が切れています", "利用者証明用電子証明書の有効期限が過ぎています。", "お住まいの市区町村の窓口で電子証明書を更新してください（手数料はかかりません）。")),
        ("en", t("Your certificate has expired", "The user-authentication certificate on your card is past its expiry date.", "Please renew it at your municipal office (free of charge).")),
    ]},
    Entry { code: FailureCode::CertificateNotYetValid, texts: &[
        ("ja", t("まだご利用いただけません", "電子証明書は、発行・暗証番号の変更・転入の手続きの翌日からご利用いただけます。", "明日以降にもう一度お試しください。")),
        ("en", t("Not usable yet", "A certificate can be used from the day after it was issued, the PIN was changed, or a move-in was registered.", "Please try again tomorrow or later.")),
    ]},
    Entry { code: FailureCode::CertificateRevoked, texts: &[
        ("ja", t("電子証明書が失効しています", "この電子証明書は失効しています（紛失の届出やカードの返納など）。", "市区町村の窓口で電子証明書の再発行をお申し込みください。スマートフォンの場合はマイナポータルアプリで再設定してください。")),
        ("en", t("Your certificate is revoked", "This certificate has been revoked (for example after a loss was reported or the card was returned).", "Please apply for a new certificate at your municipal office. For a phone certificate, set it up again in the Mynaportal app.")),
    ]},
    Entry { code: FailureCode::CertificateSuspended, texts: &[
        ("ja", t("電子証明書が一時停止されています", "この電子証明書は一時停止されています（紛失の届出など）。", "見つかった場合、カードは市区町村の窓口で、スマートフォンはマイナポータルアプリで停止を解除できます。紛失の連絡: 0120-95-0178（24時間）。")),
        ("en", t("Your certificate is suspended", "This certificate is suspended (for example after a loss was reported).", "If you found it again, lift the suspension at your municipal office (card) or in the Mynaportal app (phone). Loss hotline: 0120-95-0178 (24 hours).")),
    ]},
    Entry { code: FailureCode::CertificateUntrusted, texts: &[
        ("ja", t("電子証明書を確認できません", "この電子証明書を公的個人認証サービスのものとして確認できませんでした。", CITY_JA)),
        ("en", t("The certificate could not be verified", "This certificate could not be verified as a public JPKI certificate.", CITY_EN)),
    ]},
    Entry { code: FailureCode::CertificateUnlinked, texts: &[
        ("ja", t("交付の対象が見つかりません", "電子証明書は有効ですが、交付の対象となる住民記録が見つかりませんでした（転出・転入の直後など）。", CITY_JA)),
        ("en", t("No record found for you", "Your certificate is valid, but no resident record was found for it (for example just after a move).", CITY_EN)),
    ]},
    Entry { code: FailureCode::AuthenticationFailed, texts: &[
        ("ja", t("本人確認ができませんでした", "カードによる本人確認の結果を確認できませんでした。", "もう一度お試しください。続く場合は市区町村の窓口にご相談ください。")),
        ("en", t("Identity check failed", "The identity check with your card could not be confirmed.", "Please try again. If it keeps happening, please ask at your municipal office.")),
    ]},
    Entry { code: FailureCode::PinBlocked, texts: &[
        ("ja", t("暗証番号がロックされています", "利用者証明用電子証明書の暗証番号を3回続けて間違えたため、ロックされています。", "署名用電子証明書の暗証番号をご存じなら、暗証番号リセットアプリで予約のうえ対応端末で再設定できます。ご存じでない場合は市区町村の窓口で再設定してください。")),
        ("en", t("Your PIN is locked", "The 4-digit PIN was entered wrongly 3 times in a row, so it is locked.", "If you know your signature password, reserve a reset in the PIN reset app and reset it at a kiosk that offers it; otherwise at your municipal office.")),
    ]},
    Entry { code: FailureCode::PhoneNotReady, texts: &[
        ("ja", t("iPhoneの認証が済んでいません", "iPhoneのマイナンバーカードが認証されていない状態でかざされました。", "サイドボタンをダブルクリックし、Face ID または Touch ID で認証してから、もう一度かざしてください。")),
        ("en", t("Your iPhone was not ready", "The My Number Card in your iPhone was not authorised when it was held to the reader.", "Double-click the side button, confirm with Face ID or Touch ID, then hold it to the reader again.")),
    ]},
    Entry { code: FailureCode::BackendUnavailable, texts: &[
        ("ja", t("ただいま交付できません", "証明書交付センターと通信できませんでした。", "しばらくしてからもう一度お試しいただくか、別の端末をご利用ください。")),
        ("en", t("Service unavailable", "The kiosk could not reach the certificate issuing centre.", "Please try again later, or use another machine.")),
    ]},
    Entry { code: FailureCode::BackendRefused, texts: &[
        ("ja", t("交付できませんでした", "証明書交付センターがこのご請求を受け付けませんでした。", "もう一度お試しください。続く場合は市区町村の窓口にご相談ください。")),
        ("en", t("The request was refused", "The certificate issuing centre did not accept this request.", "Please try again. If it keeps happening, please ask at your municipal office.")),
    ]},
    Entry { code: FailureCode::NotEligible, texts: &[
        ("ja", t("この端末では交付できません", "ご事情により、コンビニ交付では証明書を交付できません（転出の届出、支援措置、年齢など）。", "市区町村の窓口でお申し込みください。")),
        ("en", t("Not available at a kiosk for you", "Because of your circumstances (a move-out, a protection measure, age and similar), this certificate cannot be issued at a kiosk.", "Please apply at your municipal office.")),
    ]},
    Entry { code: FailureCode::OutsideHours, texts: &[
        ("ja", t("ただいまの時間は交付できません", "ご希望の証明書は、現在交付時間外か休止日です。", "交付時間内にお越しください（通常 6:30〜23:00。戸籍は平日の日中のみの市区町村もあります）。")),
        ("en", t("Not available at this time", "The certificate you want cannot be issued at this time or on this day.", "Please come back during service hours (usually 6:30-23:00; some municipalities issue family registers on weekdays only).")),
    ]},
    Entry { code: FailureCode::NothingOffered, texts: &[
        ("ja", t("交付できる証明書がありません", "現在、お客様に交付できる証明書がありません。", CITY_JA)),
        ("en", t("No certificate available", "There is no certificate the kiosk can issue to you now.", CITY_EN)),
    ]},
    Entry { code: FailureCode::CatalogInvalid, texts: &[
        ("ja", t("市区町村の情報を確認できません", "手数料などの情報の署名を確認できなかったため、安全のため中止しました。", STAFF_JA)),
        ("en", t("Municipal information could not be verified", "The signature on the fees and documents information did not verify, so the request was stopped for your safety.", STAFF_EN)),
    ]},
    Entry { code: FailureCode::DocumentInvalid, texts: &[
        ("ja", t("証明書データを確認できません", "受け取った証明書データの署名を確認できなかったため、印刷していません。", RETRY_JA)),
        ("en", t("Document could not be verified", "The signature on the document data did not verify, so nothing was printed.", RETRY_EN)),
    ]},
    Entry { code: FailureCode::DocumentMismatch, texts: &[
        ("ja", t("印刷を中止しました", "受け取った証明書がお客様の手続きのものと一致しなかったため、印刷していません。この事象は自動的に報告されました。", RETRY_JA)),
        ("en", t("Printing stopped", "The document received did not belong to your request, so nothing was printed. This has been reported automatically.", RETRY_EN)),
    ]},
    Entry { code: FailureCode::CashJam, texts: &[
        ("ja", t("硬貨・紙幣が詰まりました", "お金の投入口が詰まったため、手続きを中止しました。", "店員にお知らせください。")),
        ("en", t("Coin or note jam", "The money slot jammed, so the request was stopped.", "Please tell a member of staff.")),
    ]},
    Entry { code: FailureCode::CashUnavailable, texts: &[
        ("ja", t("お支払いを受け付けられません", "料金を受け付けられない状態のため、手続きを中止しました。", STAFF_JA)),
        ("en", t("Payment not possible", "The kiosk cannot take payment now, so the request was stopped.", STAFF_EN)),
    ]},
    Entry { code: FailureCode::PrinterUnavailable, texts: &[
        ("ja", t("プリンターを使用できません", "プリンターの準備ができていないため、手続きを中止しました。", STAFF_JA)),
        ("en", t("Printer not available", "The printer is not ready, so the request was stopped.", STAFF_EN)),
    ]},
    Entry { code: FailureCode::PrinterPaperOut, texts: &[
        ("ja", t("用紙切れ", "プリンターの用紙がなくなったため、印刷できませんでした。", STAFF_JA)),
        ("en", t("Out of paper", "The printer ran out of paper, so your documents could not be printed.", STAFF_EN)),
    ]},
    Entry { code: FailureCode::PrinterJam, texts: &[
        ("ja", t("紙詰まり", "プリンターで紙が詰まったため、印刷を中止しました。途中まで印刷された用紙は証明書として使えません。", STAFF_JA)),
        ("en", t("Paper jam", "The paper jammed in the printer, so printing stopped. Any pages that came out are not valid documents.", STAFF_EN)),
    ]},
    Entry { code: FailureCode::PrinterFault, texts: &[
        ("ja", t("プリンターの異常", "プリンターに問題が起きたため、印刷を完了できませんでした。途中まで印刷された用紙は証明書として使えません。", STAFF_JA)),
        ("en", t("Printer fault", "The printer failed, so printing could not be completed. Any pages that came out are not valid documents.", STAFF_EN)),
    ]},
    Entry { code: FailureCode::ClockFault, texts: &[
        ("ja", t("端末の時計の異常", "端末の時計が正しくないため、安全のため手続きを中止しました。", STAFF_JA)),
        ("en", t("Clock fault", "The kiosk's clock is wrong, so the request was stopped for your safety.", STAFF_EN)),
    ]},
    Entry { code: FailureCode::Internal, texts: &[
        ("ja", t("エラーが発生しました", "端末で予期しない問題が起きたため、手続きを中止しました。", RETRY_JA)),
        ("en", t("Something went wrong", "An unexpected problem stopped the request.", RETRY_EN)),
    ]},
];

/// The text of `code` in `language` (falling back to `en`, then `ja`).
pub fn text(code: FailureCode, language: &str) -> Text {
    let entry = CATALOGUE.iter().find(|e| e.code == code);
    let texts = entry.map_or(&[][..], |e| e.texts);
    let find = |l: &str| texts.iter().find(|(lang, _)| *lang == l).map(|(_, t)| *t);
    find(language).or_else(|| find("en")).or_else(|| find("ja")).unwrap_or(Text {
        title: "Error",
        what: "The request was stopped.",
        todo: "Please tell a member of staff.",
    })
}

/// The money sentence for `money` in `language`.
pub fn money_text(money: MoneyState, reference: &str, language: &str) -> String {
    // Only `ja` and `en` money sentences exist yet; every other language reads English.
    let ja = language == "ja";
    match (money, ja) {
        (MoneyState::NotCharged, true) => "料金はかかっていません。".into(),
        (MoneyState::NotCharged, false) => "You have not been charged.".into(),
        (MoneyState::Returning { yen }, true) => format!("投入された{yen}円を返金しています。お取り忘れのないようにしてください。"),
        (MoneyState::Returning { yen }, false) => format!("Your {yen} yen is being returned. Please take it."),
        (MoneyState::Returned { yen }, true) => {
            format!("投入された{yen}円は全額返金しました。返却口からお受け取りください。")
        }
        (MoneyState::Returned { yen }, false) => {
            format!("All {yen} yen you inserted has been returned. Please take it from the return tray.")
        }
        (MoneyState::Owed { yen }, true) => format!(
            "{yen}円を返金できませんでした。店員にお知らせください（受付番号 {reference}）。金額は記録されています。"
        ),
        (MoneyState::Owed { yen }, false) => format!(
            "We could not return {yen} yen. Please tell a member of staff (reference {reference}); the amount is recorded."
        ),
    }
}

/// The whole message for a failure screen.
pub fn message(code: FailureCode, money: MoneyState, reference: &str, language: &str) -> ResidentMessage {
    let t = text(code, language);
    ResidentMessage {
        title: t.title.to_string(),
        what: t.what.to_string(),
        money: money_text(money, reference, language),
        todo: t.todo.to_string(),
    }
}

/// Languages every code has a text in.
pub const COMPLETE_LANGUAGES: [&str; 2] = ["ja", "en"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_ja_and_en_and_a_unique_id() {
        let mut ids = std::collections::HashSet::new();
        for code in FailureCode::ALL {
            assert!(ids.insert(code.id()), "duplicate id {}", code.id());
            assert_eq!(FailureCode::from_id(code.id()), Some(code));
            let entry = CATALOGUE.iter().filter(|e| e.code == code).count();
            assert_eq!(entry, 1, "{code} must have exactly one entry");
            for lang in COMPLETE_LANGUAGES {
                let e = CATALOGUE.iter().find(|e| e.code == code).unwrap();
                let (_, t) = e.texts.iter().find(|(l, _)| *l == lang).unwrap_or_else(|| panic!("{code} lacks {lang}"));
                assert!(!t.title.is_empty() && !t.what.is_empty() && !t.todo.is_empty(), "{code} {lang}");
            }
        }
        assert_eq!(CATALOGUE.len(), FailureCode::ALL.len());
    }

    #[test]
    fn unknown_languages_fall_back_to_english() {
        assert_eq!(text(FailureCode::PrinterJam, "vi"), text(FailureCode::PrinterJam, "en"));
        assert!(text(FailureCode::PrinterJam, "ja").title.contains("紙詰まり"));
    }

    #[test]
    fn money_says_whether_the_resident_was_charged() {
        let m = message(FailureCode::PrinterJam, MoneyState::Returned { yen: 300 }, "T-1", "ja");
        assert!(m.money.contains("300円") && m.money.contains("返金"));
        let m = message(FailureCode::CashJam, MoneyState::Owed { yen: 200 }, "T-7", "en");
        assert!(m.money.contains("200 yen") && m.money.contains("T-7"));
        let m = message(FailureCode::Cancelled, MoneyState::NotCharged, "T-2", "en");
        assert_eq!(m.money, "You have not been charged.");
    }
}
