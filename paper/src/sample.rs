//! Built-in SAMPLE data for operator test prints and benchmarks: a fictional municipality
//! (窓口市) and a fictional household. Never resident data; real documents come from the
//! backend, demo documents from the demo world (`madoguchi print-sample --world`).

use super::model::*;
use time::macros::date;
use time::Date;

/// The fictional issuer (the mayor's name uses 髙, which IPAex lacks: IPAmj明朝 prints it).
pub fn issuer() -> Issuer {
    Issuer {
        prefecture: "東京都".into(),
        municipality: "窓口市".into(),
        title: "窓口市長".into(),
        name: "髙橋　一郎".into(),
        seal: MunicipalSeal::Drawn,
        enabled: ResidentOptions {
            head_and_relationship: true,
            honseki: true,
            previous_address: true,
            my_number: true,
            resident_code: true,
        },
    }
}

/// An issuance on `day` with a sample verification host.
pub fn issuance(number: &str, day: Date) -> Issuance {
    Issuance {
        number: number.into(),
        issued_on: day,
        verify_host: "verify.madoguchi.example".into(),
        verify_code: "K7Q2-M9XD".into(),
        wording: None,
    }
}

/// The issuance of a sample page printed on `day`: numbered [`SAMPLE_NUMBER`] (stamped 見本)
/// and pointing its QR code at a `.invalid` host, which never resolves (RFC 2606).
pub fn sample_issuance(day: Date) -> Issuance {
    Issuance { verify_host: "mihon.invalid".into(), ..issuance(SAMPLE_NUMBER, day) }
}

const ADDRESS: &str = "東京都窓口市東長沼二丁目11番地の1　さくらハイツ103号";

fn member(name: &str, kana: &str, born: Date, sex: Sex, relationship: &str, my_number: &str, code: &str) -> Resident {
    Resident {
        name: name.into(),
        kana: Some(kana.into()),
        born,
        sex,
        relationship: relationship.into(),
        became_resident: Some(date!(2012 - 04 - 01)),
        address_since: date!(2020 - 10 - 15),
        notified_on: Some(date!(2020 - 10 - 20)),
        previous_address: Some("神奈川県川崎市多摩区登戸1234番地".into()),
        honseki: Some(Honseki {
            address: "東京都窓口市東長沼二丁目11番地".into(), head: "山田　太郎".into()
        }),
        my_number: Some(my_number.into()),
        resident_code: Some(code.into()),
        foreign: None,
    }
}

/// The sample household's members, in register order (up to 8).
pub fn members() -> Vec<Resident> {
    let mut v = vec![
        member(
            "山田　太郎",
            "やまだ　たろう",
            date!(1975 - 04 - 01),
            Sex::Male,
            "世帯主",
            "123456789018",
            "12345678901",
        ),
        member("山田　花子", "やまだ　はなこ", date!(1977 - 08 - 12), Sex::Female, "妻", "234567890123", "23456789012"),
        member("山田　一郎", "やまだ　いちろう", date!(2005 - 05 - 05), Sex::Male, "子", "345678901234", "34567890123"),
        member("山田　桜", "やまだ　さくら", date!(2009 - 03 - 03), Sex::Female, "子", "456789012345", "45678901234"),
        member(
            "𠮷田　﨑子",
            "よしだ　さきこ",
            date!(1950 - 01 - 20),
            Sex::Female,
            "妻の母",
            "567890123456",
            "56789012345",
        ),
    ];
    v[4].honseki = Some(Honseki {
        address: "静岡県浜松市中央区元城町103番地の2".into(), head: "𠮷田　清".into()
    });
    v.push(Resident {
        name: "SMITH　JOHN　WILLIAM".into(),
        kana: None,
        born: date!(1990 - 11 - 30),
        sex: Sex::Male,
        relationship: "同居人".into(),
        became_resident: Some(date!(2023 - 04 - 01)),
        address_since: date!(2023 - 04 - 01),
        notified_on: Some(date!(2023 - 04 - 03)),
        previous_address: Some("国外".into()),
        honseki: None,
        my_number: Some("678901234567".into()),
        resident_code: Some("67890123456".into()),
        foreign: Some(ForeignResident {
            nationality: "アメリカ合衆国".into(),
            category: Some("中長期在留者".into()),
            status: "技術・人文知識・国際業務".into(),
            period: Some("3年".into()),
            period_ends: Some(date!(2026 - 04 - 01)),
            card_number: Some("AB12345678CD".into()),
            alias: Some("スミス　ジョン".into()),
        }),
    });
    v.push(member(
        "山田　次郎",
        "やまだ　じろう",
        date!(2012 - 12 - 24),
        Sex::Male,
        "子",
        "789012345678",
        "78901234567",
    ));
    v.push(member("山田　梅", "やまだ　うめ", date!(1948 - 02 - 29), Sex::Female, "母", "890123456789", "89012345678"));
    v
}

/// A 住民票 of the first `n` members (the household then has `n` members), with 世帯主・続柄.
pub fn household(n: usize) -> Juminhyo {
    let members: Vec<Resident> = members().into_iter().take(n).collect();
    Juminhyo {
        address: ADDRESS.into(),
        head: "山田　太郎".into(),
        household_size: members.len(),
        members,
        requested: ResidentOptions { head_and_relationship: true, ..ResidentOptions::default() },
    }
}

pub fn inkan() -> Inkan {
    Inkan {
        name: "山田　太郎".into(),
        born: date!(1975 - 04 - 01),
        sex: Some(Sex::Male),
        address: ADDRESS.into(),
        registration_number: "第20123号".into(),
        impression: Some(SealImpression::Engraved { text: "山田".into(), diameter_mm: 18 }),
    }
}

/// Tax records on file: fiscal years 2023 to 2025.
pub fn tax_records() -> Vec<TaxRecord> {
    (2023..=2025)
        .map(|fy| {
            let bump = u64::try_from(fy - 2023).unwrap_or(0) * 80_000;
            let salary = 5_200_000 + bump;
            let salary_income = salary - (salary / 10 + 1_100_000).min(1_950_000);
            let deductions = 780_000 + 40_000 + 330_000 + 380_000 + 430_000;
            let taxable = (salary_income.saturating_sub(deductions) / 1000) * 1000;
            TaxRecord {
                fiscal_year: fy,
                address: ADDRESS.into(),
                address_on_jan_1: true,
                incomes: vec![(Income::SalaryRevenue, salary), (Income::Salary, salary_income)],
                total_income: salary_income,
                deductions: vec![
                    (Deduction::SocialInsurance, 780_000),
                    (Deduction::LifeInsurance, 40_000),
                    (Deduction::Spouse, 330_000),
                    (Deduction::Dependents, 380_000),
                    (Deduction::Basic, 430_000),
                ],
                total_deductions: Some(deductions),
                has_spouse: Some(true),
                dependents: Some(2),
                taxable_income: taxable,
                municipal_tax: taxable * 6 / 100 + 3_500,
                prefectural_tax: taxable * 4 / 100 + 1_500,
            }
        })
        .collect()
}

pub fn kazei(fiscal_year: i32) -> Result<Kazei, super::DocumentError> {
    Kazei::for_year("山田　太郎", date!(1975 - 04 - 01), &tax_records(), fiscal_year)
}

/// A 戸籍 of the first `n` of: the head, his wife, two children.
pub fn koseki(n: usize, scope: KosekiScope) -> Koseki {
    let birth = |day: Date, place: &str, by: &str| KosekiEvent {
        kind: "出生".into(),
        items: vec![
            ("出生日".into(), madoguchi_certs::era::wareki(day)),
            ("出生地".into(), place.into()),
            ("届出日".into(), madoguchi_certs::era::wareki(day + time::Duration::days(7))),
            ("届出人".into(), by.into()),
        ],
    };
    let marriage = |spouse: &str| KosekiEvent {
        kind: "婚姻".into(),
        items: vec![
            ("婚姻日".into(), madoguchi_certs::era::wareki(date!(2004 - 06 - 12))),
            ("配偶者氏名".into(), spouse.into()),
        ],
    };
    let persons = vec![
        KosekiPerson {
            given_name: "太郎".into(),
            born: date!(1975 - 04 - 01),
            father: Some("山田　勇".into()),
            mother: Some("山田　梅".into()),
            relationship: Some("長男".into()),
            spouse_role: Some("夫".into()),
            events: vec![birth(date!(1975 - 04 - 01), "東京都窓口市", "父"), marriage("鈴木　花子")],
            removed: false,
        },
        KosekiPerson {
            given_name: "花子".into(),
            born: date!(1977 - 08 - 12),
            father: Some("鈴木　茂".into()),
            mother: Some("鈴木　幸子".into()),
            relationship: Some("長女".into()),
            spouse_role: Some("妻".into()),
            events: vec![birth(date!(1977 - 08 - 12), "埼玉県川口市", "父"), marriage("山田　太郎")],
            removed: false,
        },
        KosekiPerson {
            given_name: "一郎".into(),
            born: date!(2005 - 05 - 05),
            father: Some("山田　太郎".into()),
            mother: Some("山田　花子".into()),
            relationship: Some("長男".into()),
            spouse_role: None,
            events: vec![birth(date!(2005 - 05 - 05), "東京都窓口市", "父")],
            removed: false,
        },
        KosekiPerson {
            given_name: "桜".into(),
            born: date!(2009 - 03 - 03),
            father: Some("山田　太郎".into()),
            mother: Some("山田　花子".into()),
            relationship: Some("長女".into()),
            spouse_role: None,
            events: vec![birth(date!(2009 - 03 - 03), "東京都窓口市", "母")],
            removed: false,
        },
    ];
    Koseki {
        honseki: "東京都窓口市東長沼二丁目11番地".into(),
        head: "山田　太郎".into(),
        created: Some(date!(2004 - 06 - 12)),
        persons: persons.into_iter().take(n).collect(),
        scope,
    }
}

pub fn fuhyo(n: usize) -> Fuhyo {
    let persons = members()
        .into_iter()
        .take(n.min(4))
        .map(|m| FuhyoPerson {
            name: m.name,
            born: m.born,
            addresses: vec![
                FuhyoAddress {
                    address: "神奈川県川崎市多摩区登戸1234番地".into(), since: date!(2004 - 06 - 12)
                },
                FuhyoAddress { address: ADDRESS.into(), since: date!(2020 - 10 - 15) },
            ],
        })
        .collect();
    Fuhyo { honseki: "東京都窓口市東長沼二丁目11番地".into(), head: "山田　太郎".into(), persons }
}
