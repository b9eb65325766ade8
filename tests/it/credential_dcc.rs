//! Cross-checks the credential module against independent JavaScript implementations: the
//! Digital Credentials Consortium verifier and signer, and jsonld.js for canonical N-Quads.
//!
//! Needs Node.js ≥ 20 and the harness packages: `npm ci --prefix tests/dcc` (once, from the npm
//! registry). The harness itself runs offline: contexts come from the npm packages and did:key
//! is resolved locally.

use std::path::{Path, PathBuf};
use std::process::Command;

use badge_kiosk::credential::{
    canonical_nquads, did_key, endorse_key, sign, verify, verify_with_key, Achievement, CredentialError,
    CredentialInput, EndorsementInput, Evidence, IssuerProfile, SubjectIdentity,
};
use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("dcc")
}

/// Runs a harness script and returns its JSON lines. Fails loudly when the harness is not
/// installed: a skipped cross-check would look like a passing one.
fn run_node(script: &str, files: &[PathBuf]) -> Vec<Value> {
    let modules = harness().join("node_modules").join("@digitalcredentials").join("vc");
    assert!(
        modules.is_dir(),
        "{} is missing: run `npm ci --prefix tests/dcc` first (Node.js >= 20; needs the npm registry once)",
        modules.display()
    );
    let output = Command::new("node")
        .arg(harness().join(script))
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node ({e}); install Node.js >= 20"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{script} printed non-JSON {line:?}: {e}")))
        .collect();
    assert!(
        !lines.is_empty(),
        "{script} printed nothing; stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    lines
}

fn at(year: i32, month: u32, day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(year, month, day, hour, 0, 0)
        .single()
        .unwrap_or_default()
}

fn kiosk_key() -> SigningKey {
    SigningKey::from_bytes(&[21; 32])
}

fn award(name: &str, description: &str, subject: SubjectIdentity) -> CredentialInput {
    CredentialInput {
        id: Uuid::new_v5(&Uuid::NAMESPACE_URL, name.as_bytes()),
        issuer: IssuerProfile {
            name: "Bibliothèque « L'Œil » \"Nord\"".to_owned(),
            url: "https://bibliotheque.example/".to_owned(),
            email: Some("contact@bibliotheque.example".to_owned()),
            image: Some("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==".to_owned()),
        },
        valid_from: at(2025, 3, 14, 15),
        name: name.to_owned(),
        achievement: Achievement {
            id: "https://bibliotheque.example/badges/fablab".to_owned(),
            name: "Fablab — découverte 🛠️".to_owned(),
            description: description.to_owned(),
            criteria_narrative: "Scan the stand's QR code\nand finish \"one\" project.".to_owned(),
            image: Some("https://bibliotheque.example/badges/fablab.png".to_owned()),
            achievement_type: "Badge".to_owned(),
        },
        subject,
        evidence: vec![Evidence::award_record(Uuid::from_u128(7), &[0x11; 64])],
    }
}

/// What the hub hands out behind a claim link (issue 17): the badge's and the issuer's
/// images as PNG `data:` URIs (the demo event's SVGs rendered as the hub renders them), and
/// a salted hash of the claim link instead of the link.
fn hub_claim_credential() -> (String, CredentialInput) {
    use badge_kiosk::hub::web::images::{data_uri, to_png};
    let badge = to_png(include_bytes!("../../assets/demo-event/badges/attended.svg")).expect("the badge renders");
    let issuer = to_png(include_bytes!("../../assets/demo-event/badges/issuer.svg")).expect("the logo renders");
    let mut input = award(
        "J'ai assisté aux Finales nationales des métiers 2026",
        "Reconnaît la visite des Finales nationales des métiers.",
        SubjectIdentity::hashed_claim_link("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789abcdef"),
    );
    input.achievement.image = Some(data_uri(&badge));
    input.issuer.image = Some(data_uri(&issuer));
    ("hub-claim-with-images".to_owned(), input)
}

/// Credentials our code signs, covering accents, quotes, backslashes, newlines, controls and
/// emoji in every text field, both subject kinds, and an endorsement.
fn our_credentials() -> Vec<(String, Value)> {
    let key = kiosk_key();
    let created = at(2025, 3, 14, 16);
    let mut credentials = vec![
        (
            "accents-emoji".to_owned(),
            award(
                "Zoë's \"Fablab\" badge 🎉",
                "Façade, naïve, Ærø, ß, 中文, עברית, 👩🏽‍🔧\nsecond line",
                SubjectIdentity::hashed_email("zoe@example.org", "5a1t"),
            ),
        ),
        (
            "backslashes-controls".to_owned(),
            award(
                "C:\\badges\\new \t tab \u{7} bell \u{0} nul \r\n crlf",
                "quote \" apostrophe ' backslash \\ slash / \u{2028} \u{feff} \u{1F600}\u{FE0F}",
                SubjectIdentity::Registration {
                    reference: "REG-\"42\"-é".to_owned(),
                },
            ),
        ),
        (
            "plain".to_owned(),
            award(
                "Fablab",
                "Made a thing.",
                SubjectIdentity::hashed_email("a@b.example", "s"),
            ),
        ),
    ]
    .into_iter()
    .chain(std::iter::once(hub_claim_credential()))
    .map(|(name, input)| (name, sign(&input, &key, created).expect("signs")))
    .collect::<Vec<_>>();

    let organisation = SigningKey::from_bytes(&[22; 32]);
    let endorsement = EndorsementInput {
        id: Uuid::from_u128(99),
        organisation: IssuerProfile {
            name: "Réseau des Bibliothèques".to_owned(),
            url: "https://reseau.example".to_owned(),
            email: None,
            image: None,
        },
        valid_from: at(2025, 3, 1, 0),
        valid_until: Some(at(2035, 3, 31, 0)),
        name: "Kiosk key for the Fablab days".to_owned(),
        comment: "Operated by our staff, stand \"4\".".to_owned(),
    };
    credentials.push((
        "endorsement".to_owned(),
        endorse_key(&endorsement, &key.verifying_key(), &organisation, at(2025, 3, 1, 8)).expect("signs"),
    ));
    credentials
}

fn write_all(dir: &Path, credentials: &[(String, Value)]) -> Vec<PathBuf> {
    credentials
        .iter()
        .map(|(name, credential)| {
            let path = dir.join(format!("{name}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(credential).unwrap_or_default()).expect("writes");
            path
        })
        .collect()
}

fn verdicts(dir: &Path, credentials: &[(String, Value)]) -> Vec<(String, bool, Value)> {
    let files = write_all(dir, credentials);
    let lines = run_node("verify.mjs", &files);
    assert_eq!(lines.len(), credentials.len());
    credentials
        .iter()
        .zip(lines)
        .map(|((name, _), verdict)| {
            (
                name.clone(),
                verdict["verified"] == json!(true),
                verdict["errors"].clone(),
            )
        })
        .collect()
}

#[test]
fn dcc_verifier_accepts_every_credential_we_sign() {
    let dir = tempfile::tempdir().expect("temp dir");
    let credentials = our_credentials();
    for (name, credential) in &credentials {
        verify(credential).unwrap_or_else(|e| panic!("{name}: our verifier refuses our own credential: {e}"));
    }
    for (name, verified, errors) in verdicts(dir.path(), &credentials) {
        assert!(verified, "DCC refused {name}: {errors}");
    }
}

/// A named edit of a signed credential.
type Edit = (&'static str, fn(&mut Value));

/// Each edit, and each substitution of the signing key, must fail in the DCC verifier and ours.
#[test]
fn dcc_verifier_and_ours_refuse_tampered_or_foreign_credentials() {
    let (_, original) = our_credentials().into_iter().next().expect("one credential");
    let edits: [Edit; 8] = [
        ("name", |c| c["name"] = json!("Zoë's \"Fablab\" badge 🎊")),
        ("subject", |c| {
            c["credentialSubject"]["identifier"][0]["identityHash"] = json!("sha256$0000")
        }),
        ("validFrom", |c| c["validFrom"] = json!("2025-03-13T15:00:00Z")),
        ("issuer-name", |c| {
            c["issuer"]["name"] = json!("Bibliothèque « L'Œil » \"Sud\"")
        }),
        ("achievement", |c| {
            c["credentialSubject"]["achievement"]["description"] = json!("Did nothing.")
        }),
        ("evidence", |c| c["evidence"][0]["narrative"] = json!("forged record")),
        ("criteria", |c| {
            c["credentialSubject"]["achievement"]["criteria"]["narrative"] = json!("none")
        }),
        ("proof-created", |c| {
            c["proof"]["created"] = json!("2025-03-14T16:00:01Z")
        }),
    ];
    let mut bad: Vec<(String, Value)> = edits
        .iter()
        .map(|(what, edit)| {
            let mut credential = original.clone();
            edit(&mut credential);
            (format!("tampered-{what}"), credential)
        })
        .collect();

    // Signed by another key: the thief's proof on a credential naming the kiosk as issuer,
    // and the thief's signature filed under the kiosk's verification method.
    let thief = SigningKey::from_bytes(&[66; 32]);
    let mut input = award(
        "Zoë's \"Fablab\" badge 🎉",
        "stolen",
        SubjectIdentity::hashed_email("z@example.org", "x"),
    );
    input.issuer.name = "Thief".to_owned();
    let thief_signed = sign(&input, &thief, at(2025, 3, 14, 16)).expect("signs");
    let mut claims_kiosk = thief_signed.clone();
    claims_kiosk["issuer"]["id"] = json!(did_key(&kiosk_key().verifying_key()));
    bad.push(("other-key-claims-kiosk-issuer".to_owned(), claims_kiosk));
    let mut borrowed_method = thief_signed;
    borrowed_method["issuer"]["id"] = json!(did_key(&kiosk_key().verifying_key()));
    borrowed_method["proof"]["verificationMethod"] = original["proof"]["verificationMethod"].clone();
    bad.push(("other-key-under-kiosk-method".to_owned(), borrowed_method));

    for (name, credential) in &bad {
        assert!(verify(credential).is_err(), "our verifier accepted {name}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, verified, _) in verdicts(dir.path(), &bad) {
        assert!(!verified, "DCC accepted {name}");
    }
}

/// Text that exercises every escaping rule and several scripts, drawn reproducibly.
fn random_text(rng: &mut StdRng) -> String {
    const POOL: &[char] = &[
        'a',
        'Z',
        '0',
        ' ',
        '"',
        '\'',
        '\\',
        '/',
        '\n',
        '\r',
        '\t',
        '\u{0}',
        '\u{1}',
        '\u{8}',
        '\u{b}',
        '\u{c}',
        '\u{1f}',
        '\u{7f}',
        '\u{80}',
        '\u{a0}',
        'é',
        'Œ',
        'ß',
        'ı',
        '\u{301}',
        '中',
        'ع',
        '\u{200d}',
        '\u{2028}',
        '\u{feff}',
        '\u{e000}',
        '\u{fffd}',
        '\u{ffff}',
        '😀',
        '🏳',
        '\u{1F3FD}',
        '\u{10FFFF}',
        '<',
        '>',
        '&',
        '{',
        '}',
        '^',
        '`',
        '|',
    ];
    let length = rng.gen_range(0..24);
    (0..length)
        .map(|_| POOL.get(rng.gen_range(0..POOL.len())).copied().unwrap_or('x'))
        .collect()
}

/// Our canonical N-Quads equal those of jsonld.js (full JSON-LD expansion with the same
/// contexts) for the 1EdTech vector, every credential we sign, and 40 credentials with random
/// text; and the DCC verifier accepts all the random ones.
#[test]
fn jsonld_js_produces_our_canonical_nquads() {
    let mut rng = StdRng::seed_from_u64(0x0b3);
    let mut credentials = our_credentials();
    for index in 0..40 {
        let subject = if index % 2 == 0 {
            SubjectIdentity::hashed_email(&random_text(&mut rng), &random_text(&mut rng))
        } else {
            SubjectIdentity::Registration {
                reference: random_text(&mut rng),
            }
        };
        let mut input = award(&random_text(&mut rng), &random_text(&mut rng), subject);
        input.issuer.name = random_text(&mut rng);
        input.achievement.name = random_text(&mut rng);
        input.achievement.criteria_narrative = random_text(&mut rng);
        input.evidence = vec![Evidence {
            id: format!("urn:uuid:{}", Uuid::from_u128(rng.gen())),
            name: random_text(&mut rng),
            narrative: random_text(&mut rng),
        }];
        credentials.push((
            format!("random-{index}"),
            sign(&input, &kiosk_key(), at(2025, 3, 14, 16)).expect("signs"),
        ));
    }
    let vector: Value = serde_json::from_str(include_str!("../dcc/vector-credential.json")).expect("vector JSON");
    let vector_key = SigningKey::from_bytes(&[
        0x62, 0x41, 0xa4, 0x09, 0xe6, 0x70, 0x7b, 0xb6, 0x40, 0xa0, 0x14, 0x0a, 0x8a, 0x32, 0xbc, 0x3d, 0x19, 0x3c,
        0x33, 0xa6, 0x61, 0x74, 0x72, 0x84, 0xd6, 0xad, 0xfa, 0x4e, 0xd4, 0x18, 0x0b, 0xe4,
    ]);
    verify_with_key(&vector, &vector_key.verifying_key()).expect("the 1EdTech vector verifies");
    credentials.push(("1edtech-vector".to_owned(), vector));

    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_all(dir.path(), &credentials);
    let lines = run_node("nquads.mjs", &files);
    assert_eq!(lines.len(), credentials.len());
    for ((name, credential), line) in credentials.iter().zip(&lines) {
        assert!(
            line.get("error").is_none(),
            "jsonld.js failed on {name}: {}",
            line["error"]
        );
        let ours = canonical_nquads(credential).expect("canonical");
        assert_eq!(
            line["document"].as_str(),
            Some(ours.as_str()),
            "N-Quads differ for {name}"
        );
    }

    let random: Vec<(String, Value)> = credentials
        .into_iter()
        .filter(|(name, _)| name.starts_with("random-"))
        .collect();
    for (name, verified, errors) in verdicts(dir.path(), &random) {
        assert!(verified, "DCC refused {name}: {errors}");
    }
}

/// The DCC signer, given the same credential, key and date as `bench_signing`, produces the
/// very same proofValue as our signer (pinned in the credential module's bench tests).
#[test]
fn dcc_signer_produces_our_proof_value() {
    let lines = run_node("sign-bench.mjs", &[PathBuf::from("1")]);
    assert_eq!(
        lines.first().and_then(|l| l["proofValue"].as_str()),
        Some("z5Y2cznrZrYZyP93q742nqcDSiyAFLPwM2aaQWhzYc5nVMVpF2kFoV4fb7AYBViy7fkMw6mnjAg7pkhFbZnQoiMFf")
    );
}

/// Our verifier explains a JSON shape it does not read instead of guessing.
#[test]
fn unsupported_json_is_refused_with_its_path() {
    let (_, mut credential) = our_credentials().into_iter().next().expect("one credential");
    credential["credentialSubject"]["achievement"]["alignment"] = json!([]);
    match verify(&credential) {
        Err(CredentialError::UnsupportedShape { path, .. }) => {
            assert_eq!(path, "credential.credentialSubject.achievement.alignment")
        }
        other => panic!("expected UnsupportedShape, got {other:?}"),
    }
}
