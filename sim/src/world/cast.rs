//! The cast: who lives in the demo world, as hand-written specs (names, births, households,
//! 本籍, moves, phones, seals, income). Everything else about a resident follows from these and
//! the seed.

use super::Sex;
use madoguchi_api::registry::Municipality;

pub(super) const KIYOSE: &str = "132217";
pub(super) const TOKOROZAWA: &str = "112089";

pub(super) fn municipalities() -> Vec<Municipality> {
    let m = |code: &str, pref: &str, name: &str, kana: &str, pr: &str, cr: &str, mayor: &str| Municipality {
        code: code.into(),
        prefecture: pref.into(),
        name: name.into(),
        name_kana: kana.into(),
        prefecture_romaji: pr.into(),
        city_romaji: cr.into(),
        issuer_title: format!("{name}長"),
        issuer_name: mayor.into(),
        seal_png: None,
    };
    vec![
        m(KIYOSE, "東京都", "清瀬市", "きよせし", "Tokyo-to", "Kiyose-shi", "𠮷田　正和"),
        m(TOKOROZAWA, "埼玉県", "所沢市", "ところざわし", "Saitama-ken", "Tokorozawa-shi", "山﨑　登美子"),
    ]
}

#[derive(Clone, Copy)]
pub(super) enum Birth {
    Fixed(i32, u8, u8),
    /// `years` old, the birthday `days` after today (negative: before).
    Relative {
        years: i32,
        days: i64,
    },
}

#[derive(Clone, Copy)]
pub(super) struct HonsekiSpec {
    pub(super) municipality: &'static str,
    pub(super) address: &'static str,
    pub(super) hittosha: &'static str,
    /// 戸籍編製日 (the 筆頭者's marriage, or a 分籍).
    pub(super) created: (i32, u8, u8),
    /// The 従前戸籍 of whoever entered it: the spouse by marriage, or the 筆頭者 by 分籍.
    pub(super) spouse_from: &'static str,
}

const HONSEKI_SATO: HonsekiSpec = HonsekiSpec {
    municipality: KIYOSE,
    address: "東京都清瀬市中里五丁目842番地",
    hittosha: "佐藤　健一",
    created: (2006, 4, 29),
    spouse_from: "東京都東村山市本町二丁目6番地　小林　茂",
};
const HONSEKI_TAKAHASHI: HonsekiSpec = HonsekiSpec {
    municipality: TOKOROZAWA,
    address: "埼玉県所沢市東町5番地",
    hittosha: "髙橋　誠",
    created: (1986, 10, 10),
    spouse_from: "埼玉県川越市元町一丁目3番地　加藤　昭",
};
const HONSEKI_NAKAMURA: HonsekiSpec = HonsekiSpec {
    municipality: KIYOSE,
    address: "東京都清瀬市野塩三丁目7番地",
    hittosha: "中村　大樹",
    created: (2016, 11, 22),
    spouse_from: "東京都小平市小川町一丁目100番地　伊藤　浩",
};
const HONSEKI_TANAKA: HonsekiSpec = HonsekiSpec {
    municipality: KIYOSE,
    address: "東京都清瀬市竹丘二丁目3番地",
    hittosha: "田中　正",
    created: (1982, 5, 15),
    spouse_from: "東京都練馬区豊玉北六丁目12番地　渡辺　勇",
};
const HONSEKI_SUZUKI: HonsekiSpec = HonsekiSpec {
    municipality: KIYOSE,
    address: "東京都清瀬市梅園一丁目2番地",
    hittosha: "鈴木　大輔",
    created: (2009, 6, 6),
    spouse_from: "東京都清瀬市旭が丘一丁目1番地　吉田　進",
};
const HONSEKI_YAMAZAKI: HonsekiSpec = HonsekiSpec {
    municipality: KIYOSE,
    address: "東京都清瀬市松山一丁目9番地",
    hittosha: "山﨑　翔太",
    created: (2019, 4, 12),
    spouse_from: "東京都清瀬市松山一丁目9番地　山﨑　正樹",
};
const HONSEKI_YAMAGUCHI: HonsekiSpec = HonsekiSpec {
    municipality: TOKOROZAWA,
    address: "埼玉県所沢市小手指町三丁目10番地",
    hittosha: "山口　正雄",
    created: (1967, 3, 20),
    spouse_from: "埼玉県所沢市日吉町8番地　松本　清",
};

/// A move into this household from another municipality `days_ago` (the signature certificate
/// issued before it is revoked that day, jpki.md §6).
#[derive(Clone, Copy)]
pub(super) struct MoveIn {
    pub(super) days_ago: i64,
    pub(super) from_municipality: &'static str,
    pub(super) from_address: &'static str,
    /// Whether a new signature certificate was issued after the move (else the card still
    /// holds the revoked one).
    pub(super) sign_reissued: bool,
}

#[derive(Clone, Copy)]
pub(super) struct Emigrated {
    pub(super) days_ago: i64,
    pub(super) destination: &'static str,
    pub(super) from_municipality: &'static str,
    pub(super) from_address: &'static str,
}

#[derive(Clone, Copy)]
pub(super) struct Foreign {
    pub(super) nationality: &'static str,
    /// 第30条の45に規定する区分.
    pub(super) category: &'static str,
    pub(super) status: &'static str,
    /// 在留期間 (`1年`).
    pub(super) period: &'static str,
    /// 通称, if registered.
    pub(super) alias: Option<&'static str>,
    pub(super) stay_ends_in_days: i64,
    pub(super) arrived_days_ago: i64,
}

#[derive(Clone, Copy)]
pub(super) enum Phone {
    None,
    Android { issued_days_ago: i64, suspended_days_ago: Option<i64> },
    Iphone { issued_days_ago: i64 },
}

#[derive(Clone, Copy)]
pub(super) enum Income {
    None,
    Salary(u64),
    Pension(u64),
}

#[derive(Clone, Copy)]
pub(super) struct Spec {
    pub(super) id: &'static str,
    pub(super) family: &'static str,
    pub(super) given: &'static str,
    pub(super) family_kana: &'static str,
    pub(super) given_kana: &'static str,
    /// The family name in the signature certificate when the register's uses a variant kanji
    /// outside the certificate's character set (marked in 氏名代替文字位置).
    pub(super) cert_family: Option<&'static str>,
    pub(super) sex: Sex,
    pub(super) birth: Birth,
    pub(super) household: Option<(&'static str, &'static str)>,
    pub(super) honseki: Option<HonsekiSpec>,
    /// Certificates (and card) issued this many days before today.
    pub(super) issued_days_ago: i64,
    pub(super) resident_since_days_ago: i64,
    pub(super) move_in: Option<MoveIn>,
    pub(super) emigrated: Option<Emigrated>,
    pub(super) foreign: Option<Foreign>,
    pub(super) phone: Phone,
    pub(super) pin_blocked: bool,
    pub(super) seal: Option<(&'static str, u8)>,
    pub(super) income: Income,
    pub(super) empty_verify_ok: bool,
    pub(super) notes: &'static str,
}

const BASE: Spec = Spec {
    id: "",
    family: "",
    given: "",
    family_kana: "",
    given_kana: "",
    cert_family: None,
    sex: Sex::Male,
    birth: Birth::Fixed(1980, 1, 1),
    household: None,
    honseki: None,
    issued_days_ago: 500,
    resident_since_days_ago: 3650,
    move_in: None,
    emigrated: None,
    foreign: None,
    phone: Phone::None,
    pin_blocked: false,
    seal: None,
    income: Income::None,
    empty_verify_ok: false,
    notes: "",
};

/// Five years and a bit: issued so long ago that the 5th birthday after issuance has passed.
const EXPIRED_ISSUE_DAYS_AGO: i64 = 5 * 365 + 200;

pub(super) fn cast() -> Vec<Spec> {
    vec![
        Spec {
            id: "R0001",
            family: "佐藤",
            given: "健一",
            family_kana: "サトウ",
            given_kana: "ケンイチ",
            birth: Birth::Fixed(1978, 5, 14),
            household: Some(("H01", "世帯主")),
            honseki: Some(HONSEKI_SATO),
            issued_days_ago: 800,
            phone: Phone::Android { issued_days_ago: 300, suspended_days_ago: None },
            seal: Some(("佐藤", 15)),
            income: Income::Salary(6_200_000),
            notes: "Ordinary adult, household head with a registered seal; also has an Android phone token with its own PIN and password.",
            ..BASE
        },
        Spec {
            id: "R0002",
            family: "佐藤",
            given: "美和",
            family_kana: "サトウ",
            given_kana: "ミワ",
            sex: Sex::Female,
            birth: Birth::Fixed(1981, 8, 3),
            household: Some(("H01", "妻")),
            honseki: Some(HONSEKI_SATO),
            phone: Phone::Iphone { issued_days_ago: 60 },
            income: Income::Salary(1_000_000),
            empty_verify_ok: true,
            notes: "Adult household member with an iPhone token (no PIN at the kiosk); her card answers an empty VERIFY after success with 9000.",
            ..BASE
        },
        Spec {
            id: "R0003",
            family: "佐藤",
            given: "陽翔",
            family_kana: "サトウ",
            given_kana: "ハルト",
            birth: Birth::Relative { years: 9, days: -100 },
            household: Some(("H01", "子")),
            honseki: Some(HONSEKI_SATO),
            issued_days_ago: 400,
            resident_since_days_ago: 3000,
            notes: "Under 15: user-authentication certificate only, no signature certificate or password (EF 0001 absent).",
            ..BASE
        },
        Spec {
            id: "R0004",
            family: "髙橋",
            given: "誠",
            family_kana: "タカハシ",
            given_kana: "マコト",
            cert_family: Some("高橋"),
            birth: Birth::Fixed(1960, 11, 2),
            household: Some(("H02", "世帯主")),
            honseki: Some(HONSEKI_TAKAHASHI),
            issued_days_ago: 700,
            pin_blocked: true,
            income: Income::Salary(4_800_000),
            notes: "Variant kanji 髙 (the signature certificate carries 高 with the substitution flagged); 本籍 in 所沢市; user-authentication PIN blocked (0 tries left), signature password intact for a PIN reset.",
            ..BASE
        },
        Spec {
            id: "R0005",
            family: "髙橋",
            given: "恵子",
            family_kana: "タカハシ",
            given_kana: "ケイコ",
            cert_family: Some("高橋"),
            sex: Sex::Female,
            birth: Birth::Fixed(1964, 2, 29),
            household: Some(("H02", "妻")),
            honseki: Some(HONSEKI_TAKAHASHI),
            issued_days_ago: EXPIRED_ISSUE_DAYS_AGO,
            income: Income::Salary(2_400_000),
            notes: "Certificates expired (5th birthday after issuance has passed; born on 29 February), the card itself is still valid.",
            ..BASE
        },
        Spec {
            id: "R0006",
            family: "NGUYEN",
            given: "VAN AN",
            family_kana: "グエン",
            given_kana: "ヴァン　アン",
            birth: Birth::Fixed(1996, 7, 21),
            household: Some(("H03", "世帯主")),
            resident_since_days_ago: 560,
            foreign: Some(Foreign {
                nationality: "ベトナム",
                category: "中長期在留者",
                status: "技術・人文知識・国際業務",
                period: "1年",
                alias: Some("阮　文安"),
                stay_ends_in_days: 200,
                arrived_days_ago: 560,
            }),
            income: Income::Salary(3_300_000),
            notes: "Foreign resident (中長期在留者, 通称 阮　文安 registered): certificates end with the period of stay, earlier than the 5th birthday after issuance.",
            ..BASE
        },
        Spec {
            id: "R0007",
            family: "中村",
            given: "大樹",
            family_kana: "ナカムラ",
            given_kana: "ダイキ",
            birth: Birth::Relative { years: 37, days: 40 },
            household: Some(("H04", "世帯主")),
            honseki: Some(HONSEKI_NAKAMURA),
            issued_days_ago: 5 * 365 - 100,
            income: Income::Salary(5_500_000),
            notes: "Certificates expire in about 40 days (5th birthday after issuance): the kiosk should suggest renewal.",
            ..BASE
        },
        Spec {
            id: "R0008",
            family: "中村",
            given: "葵",
            family_kana: "ナカムラ",
            given_kana: "アオイ",
            sex: Sex::Female,
            birth: Birth::Fixed(1990, 6, 6),
            household: Some(("H04", "妻")),
            honseki: Some(HONSEKI_NAKAMURA),
            issued_days_ago: 900,
            phone: Phone::Android { issued_days_ago: 200, suspended_days_ago: Some(12) },
            income: Income::Salary(3_900_000),
            notes: "Lost her Android phone: its certificates are on hold (一時利用停止, certificateHold on both CRLs); her card works.",
            ..BASE
        },
        Spec {
            id: "R0009",
            family: "田中",
            given: "裕子",
            family_kana: "タナカ",
            given_kana: "ユウコ",
            sex: Sex::Female,
            birth: Birth::Fixed(1985, 3, 7),
            honseki: Some(HONSEKI_TANAKA),
            issued_days_ago: 380,
            emigrated: Some(Emigrated {
                days_ago: 400,
                destination: "アメリカ合衆国",
                from_municipality: KIYOSE,
                from_address: "東京都清瀬市竹丘二丁目3番1号",
            }),
            income: Income::Salary(4_100_000),
            notes: "Moved abroad: card and certificates still valid (reissued for residents abroad, address field = 本籍), no residence record; 戸籍 and 附票 in 清瀬市.",
            ..BASE
        },
        Spec {
            id: "R0010",
            family: "鈴木",
            given: "大輔",
            family_kana: "スズキ",
            given_kana: "ダイスケ",
            birth: Birth::Fixed(1983, 12, 1),
            household: Some(("H05", "世帯主")),
            honseki: Some(HONSEKI_SUZUKI),
            issued_days_ago: 300,
            resident_since_days_ago: 60,
            move_in: Some(MoveIn {
                days_ago: 60,
                from_municipality: KIYOSE,
                from_address: "東京都清瀬市梅園一丁目2番3号",
                sign_reissued: false,
            }),
            seal: Some(("鈴木", 15)),
            income: Income::Salary(7_300_000),
            notes: "Moved from 清瀬市 to 所沢市 60 days ago: the signature certificate on the card was revoked that day (on the sign CRL); user-authentication certificate still valid. Seal re-registered in 所沢市 (the 清瀬市 registration was abolished).",
            ..BASE
        },
        Spec {
            id: "R0011",
            family: "鈴木",
            given: "さくら",
            family_kana: "スズキ",
            given_kana: "サクラ",
            sex: Sex::Female,
            birth: Birth::Fixed(1986, 4, 3),
            household: Some(("H05", "妻")),
            honseki: Some(HONSEKI_SUZUKI),
            issued_days_ago: 300,
            resident_since_days_ago: 60,
            move_in: Some(MoveIn {
                days_ago: 60,
                from_municipality: KIYOSE,
                from_address: "東京都清瀬市梅園一丁目2番3号",
                sign_reissued: true,
            }),
            income: Income::Salary(2_900_000),
            notes: "Moved with her husband; her old signature certificate is on the sign CRL, the card holds a new one with the 所沢市 address.",
            ..BASE
        },
        Spec {
            id: "R0012",
            family: "鈴木",
            given: "蓮",
            family_kana: "スズキ",
            given_kana: "レン",
            birth: Birth::Relative { years: 16, days: -50 },
            household: Some(("H05", "子")),
            honseki: Some(HONSEKI_SUZUKI),
            issued_days_ago: 40,
            resident_since_days_ago: 60,
            move_in: Some(MoveIn {
                days_ago: 60,
                from_municipality: KIYOSE,
                from_address: "東京都清瀬市梅園一丁目2番3号",
                sign_reissued: true,
            }),
            notes: "16 years old: not an adult, not under 15; has a signature certificate (card issued after the move).",
            ..BASE
        },
        Spec {
            id: "R0013",
            family: "山口",
            given: "和子",
            family_kana: "ヤマグチ",
            given_kana: "カズコ",
            sex: Sex::Female,
            birth: Birth::Fixed(1944, 9, 15),
            household: Some(("H06", "世帯主")),
            honseki: Some(HONSEKI_YAMAGUCHI),
            issued_days_ago: 1000,
            seal: Some(("山口", 12)),
            income: Income::Pension(2_100_000),
            empty_verify_ok: true,
            notes: "Elderly resident (born 昭和19年), household head with a registered seal, pension income.",
            ..BASE
        },
        Spec {
            id: "R0014",
            family: "山﨑",
            given: "翔太",
            family_kana: "ヤマザキ",
            given_kana: "ショウタ",
            cert_family: Some("山崎"),
            birth: Birth::Fixed(1995, 10, 8),
            household: Some(("H07", "世帯主")),
            honseki: Some(HONSEKI_YAMAZAKI),
            issued_days_ago: 600,
            resident_since_days_ago: 1200,
            income: Income::Salary(3_600_000),
            notes: "Variant kanji 﨑 in the family name (the signature certificate carries 崎, flagged) and nothing else the matter: valid certificates, PIN intact, a 戸籍 of his own (分籍) in 清瀬市.",
            ..BASE
        },
        Spec {
            id: "R0015",
            // 邉 with the 文字情報基盤 selector U+E0110: one of its many registered forms.
            family: "渡邉\u{E0110}",
            given: "美咲",
            family_kana: "ワタナベ",
            given_kana: "ミサキ",
            cert_family: Some("渡邉"),
            sex: Sex::Female,
            birth: Birth::Fixed(1988, 3, 3),
            household: Some(("H08", "世帯主")),
            issued_days_ago: 400,
            resident_since_days_ago: 900,
            income: Income::Salary(4_100_000),
            notes: "Name written with an ideographic variation sequence (邉 + U+E0110, printed from IPAmj明朝; the signature certificate carries the bare 邉, flagged) and nothing else the matter.",
            ..BASE
        },
    ]
}

/// Characters that mark a name as using variant (異体字) kanji.
pub(super) const VARIANT_KANJI: [char; 3] = ['髙', '﨑', '𠮷'];

/// An ideographic variation selector (U+E0100–E01EF): the character before it is a
/// registered variant form.
pub(super) fn is_ivs_selector(c: char) -> bool {
    ('\u{E0100}'..='\u{E01EF}').contains(&c)
}

/// Whether a registered name uses variant kanji: one of [`VARIANT_KANJI`] or a variation
/// sequence.
pub(super) fn has_variant_kanji(name: &str) -> bool {
    name.chars().any(|c| VARIANT_KANJI.contains(&c) || is_ivs_selector(c))
}
