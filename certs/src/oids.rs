//! Object identifiers of the JPKI profiles (jpki.md §6) and the few PKIX ones we check by hand.

use der::asn1::ObjectIdentifier as Oid;

/// certificatePolicies of the user-authentication certificate (利用者証明用).
pub const POLICY_AUTH: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.3.30");
/// certificatePolicies of the signature certificate (署名用).
pub const POLICY_SIGN: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.1.20");
/// Signature-certificate policy of the J-LIS test environment.
pub const POLICY_SIGN_TEST: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.0.20");
/// User-authentication policy of the test environment. Not published; our assumption by analogy
/// with the signature policy (`…1.0.20` vs `…1.1.20`), used only by `testpki`.
pub const POLICY_AUTH_TEST: Oid = Oid::new_unwrap("1.2.392.200149.8.5.1.0.30");

/// Basic 4 information in the signature certificate's subjectAltName (otherName type ids).
pub const BASIC4_NAME: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.1");
pub const BASIC4_NAME_ALT: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.2");
pub const BASIC4_SEX: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.3");
pub const BASIC4_BIRTH: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.4");
pub const BASIC4_ADDRESS: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.5");
pub const BASIC4_ADDRESS_ALT: Oid = Oid::new_unwrap("1.2.392.200149.8.5.5.6");

/// The only signature algorithm JPKI uses.
pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
/// id-qt-cps, the CPS pointer qualifier of certificatePolicies.
pub const QT_CPS: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.2.1");

pub const AT_COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
pub const AT_ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
pub const AT_ORG_UNIT: Oid = Oid::new_unwrap("2.5.4.11");
pub const AT_COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
pub const AT_LOCALITY: Oid = Oid::new_unwrap("2.5.4.7");
pub const AT_STATE: Oid = Oid::new_unwrap("2.5.4.8");
pub const AT_SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");

pub const EXT_KEY_USAGE: Oid = Oid::new_unwrap("2.5.29.15");
pub const EXT_BASIC_CONSTRAINTS: Oid = Oid::new_unwrap("2.5.29.19");
pub const EXT_CERT_POLICIES: Oid = Oid::new_unwrap("2.5.29.32");
pub const EXT_SAN: Oid = Oid::new_unwrap("2.5.29.17");
pub const EXT_IAN: Oid = Oid::new_unwrap("2.5.29.18");
pub const EXT_SKI: Oid = Oid::new_unwrap("2.5.29.14");
pub const EXT_AKI: Oid = Oid::new_unwrap("2.5.29.35");
pub const EXT_CRL_DP: Oid = Oid::new_unwrap("2.5.29.31");
pub const EXT_CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
pub const EXT_CRL_REASON: Oid = Oid::new_unwrap("2.5.29.21");
pub const EXT_AIA: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.1.1");

/// Issuer OUs that tell the two JPKI hierarchies apart.
pub const OU_AUTH: &str = "JPKI for user authentication";
pub const OU_SIGN: &str = "JPKI for digital signature";
pub const OU_JLIS: &str = "Japan Agency for Local Authority Information Systems";
/// The alt-name DirName organisation of production JPKI certificates.
pub const ALT_NAME_O: &str = "公的個人認証サービス";
