//! The visitor pages' texts, in French and English: one language per page (`lang::negotiate`).

use crate::domain::event::Language;

/// Every fixed text of the claim pages in one language.
#[derive(Debug)]
pub struct Words {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_lang_name: &'static str,
    pub your_badge: &'static str,
    pub genuine: &'static str,
    pub genuine_detail: &'static str,
    pub not_checked: &'static str,
    pub linkedin: &'static str,
    pub linkedin_hint: &'static str,
    pub download: &'static str,
    pub download_hint: &'static str,
    pub email_title: &'static str,
    pub email_label: &'static str,
    pub email_placeholder: &'static str,
    pub email_send: &'static str,
    pub email_privacy: &'static str,
    pub wallet: &'static str,
    pub wallet_hint: &'static str,
    pub share: &'static str,
    pub share_hint: &'static str,
    pub recorded_only: &'static str,
    pub no_badges_here: &'static str,
    pub not_yet_title: &'static str,
    pub not_yet_body: &'static str,
    pub not_yet_waiting: &'static str,
    /// "on its way" with the time expected: a kiosk was in touch `{n}` minutes ago…
    pub not_yet_recent: &'static str,
    /// … or no kiosk for `{n}` minutes.
    pub not_yet_quiet: &'static str,
    pub back: &'static str,
    pub issued_by: &'static str,
    pub criteria: &'static str,
    pub public_note: &'static str,
    pub unknown_title: &'static str,
    pub unknown_body: &'static str,
    pub bad_address_title: &'static str,
    pub bad_address_body: &'static str,
    pub too_many_title: &'static str,
    pub too_many_body: &'static str,
    pub too_many_after: &'static str,
    pub minutes: &'static str,
    pub sent_title: &'static str,
    pub sent_body: &'static str,
    pub refused_title: &'static str,
    pub refused_body: &'static str,
    pub on_its_way_title: &'static str,
    pub on_its_way_body: &'static str,
    pub queued_title: &'static str,
    pub queued_body: &'static str,
    pub cannot_send_title: &'static str,
    pub months: [&'static str; 12],
    pub wallet_title: &'static str,
    pub wallet_lcw: &'static str,
    pub wallet_lcw_hint: &'static str,
    pub wallet_lcw_direct: &'static str,
    pub wallet_openid: &'static str,
    pub wallet_openid_hint: &'static str,
    pub wallet_qr_hint: &'static str,
    pub wallet_valid: &'static str,
    pub wallet_valid_after: &'static str,
    pub wallet_too_many: &'static str,
}

pub const FRENCH: Words = Words {
    lang: "fr",
    other_lang: "en",
    other_lang_name: "English",
    your_badge: "Votre badge",
    genuine: "Ce badge est authentique.",
    genuine_detail: "Sa signature vient d'être vérifiée : il a été délivré par",
    not_checked: "La signature de ce badge n'a pas pu être vérifiée : ne le partagez pas, et signalez-le à l'organisateur.",
    linkedin: "Ajouter à mon profil LinkedIn",
    linkedin_hint: "Rubrique « Licences et certifications », avec le lien vers la page publique du badge.",
    download: "Télécharger le badge (PNG)",
    download_hint: "L'image contient votre badge vérifiable : c'est elle qu'on publie et qu'on importe dans un portefeuille de badges.",
    email_title: "L'envoyer à mon adresse e-mail",
    email_label: "Votre adresse e-mail",
    email_placeholder: "prenom@exemple.fr",
    email_send: "Envoyer",
    email_privacy: "L'adresse ne sert qu'à cet envoi, puis elle est effacée.",
    wallet: "Justificatif Open Badges 3.0 (JSON)",
    wallet_hint: "Pour les portefeuilles numériques et les vérificateurs.",
    share: "Page publique du badge",
    share_hint: "Un lien à partager : il montre le badge, pas ce lien-ci.",
    recorded_only: "Votre badge est enregistré : l'organisateur vous l'enverra.",
    no_badges_here: "Ce hub ne délivre pas les badges : l'organisateur vous enverra le vôtre.",
    not_yet_title: "Votre badge arrive",
    not_yet_body: "La borne n'a pas encore transmis votre badge. Gardez cette page ouverte : elle se met à jour toute seule.",
    not_yet_waiting: "Si la borne est hors ligne, revenez sur ce lien plus tard dans la journée.",
    not_yet_recent: "Une borne a joint ce site il y a {n} min : votre badge devrait arriver d'ici quelques minutes.",
    not_yet_quiet: "Aucune borne n'a joint ce site depuis {n} min : votre badge arrivera dès que sa borne sera de nouveau en ligne, en général dans la journée. Revenez sur ce lien plus tard.",
    back: "← Retour au badge",
    issued_by: "Délivré par",
    criteria: "Critères",
    public_note: "Cette page montre un badge Open Badges 3.0 délivré lors de l'événement. Le badge signé est détenu par la personne qui l'a obtenu.",
    unknown_title: "Badge introuvable",
    unknown_body: "Ce lien ne correspond à aucun badge sur ce serveur. Vérifiez-le ou demandez le lien à la personne qui vous l'a envoyé.",
    bad_address_title: "Adresse non valide",
    bad_address_body: "Cette adresse ne semble pas valide : vérifiez-la (par exemple prenom@exemple.fr) et réessayez.",
    too_many_title: "Trop de demandes",
    too_many_body: "Ce badge, ou cette adresse, a déjà été demandé 3 fois par e-mail dans l'heure : réessayez dans",
    too_many_after: ", ou téléchargez-le depuis sa page.",
    minutes: "min",
    sent_title: "Envoyé",
    sent_body: "Votre badge a été envoyé. Regardez votre boîte de réception (et les indésirables) :",
    refused_title: "Envoi refusé",
    refused_body: "Le serveur de courriel a refusé l'envoi : vérifiez l'adresse et réessayez, ou téléchargez le badge depuis sa page. Adresse :",
    on_its_way_title: "En cours d'envoi",
    on_its_way_body: "Votre badge part dans quelques minutes (dès le retour en ligne du hub s'il est hors ligne) vers",
    queued_title: "Demande enregistrée",
    queued_body: "Le badge sera envoyé quand le hub sera en ligne. En attendant, vous pouvez le télécharger depuis sa page. Adresse :",
    cannot_send_title: "Envoi impossible",
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    wallet_title: "Dans une application portefeuille",
    wallet_lcw: "Ajouter à Learner Credential Wallet",
    wallet_lcw_hint: "L'application s'ouvre, demande de confirmer, puis propose de garder le badge. Rien ne s'ouvre ?",
    wallet_lcw_direct: "Ouvrir l'application installée",
    wallet_openid: "Autre portefeuille (OpenID4VCI)",
    wallet_openid_hint: "Pour les portefeuilles qui acceptent les offres OpenID : l'application demande de confirmer, puis garde le badge.",
    wallet_qr_hint: "Sur un ordinateur ? Scannez ce code avec l'application portefeuille de votre téléphone.",
    wallet_valid: "Ces liens servent une fois, pendant",
    wallet_valid_after: " : rechargez la page pour en obtenir de nouveaux.",
    wallet_too_many: "Trop de liens de portefeuille demandés pour ce badge dans l'heure : réessayez dans",
};

pub const ENGLISH: Words = Words {
    lang: "en",
    other_lang: "fr",
    other_lang_name: "Français",
    your_badge: "Your badge",
    genuine: "This badge is genuine.",
    genuine_detail: "Its signature was checked just now: it was issued by",
    not_checked: "This badge's signature could not be checked: do not share it, and tell the organiser.",
    linkedin: "Add to LinkedIn profile",
    linkedin_hint: "Under \u{201c}Licenses & certifications\u{201d}, with a link to the badge's public page.",
    download: "Download the badge (PNG)",
    download_hint: "The image carries your verifiable badge: it is what you post, and what badge wallets import.",
    email_title: "Send it to my email",
    email_label: "Your email address",
    email_placeholder: "name@example.com",
    email_send: "Send",
    email_privacy: "The address is used for this message only, then erased.",
    wallet: "Open Badges 3.0 credential (JSON)",
    wallet_hint: "For digital wallets and verifiers.",
    share: "The badge's public page",
    share_hint: "A link to share: it shows the badge, not this link.",
    recorded_only: "Your badge is recorded: the organiser will send it to you.",
    no_badges_here: "This hub does not hand out badges: the organiser will send yours.",
    not_yet_title: "Your badge is on its way",
    not_yet_body: "The kiosk has not sent your badge yet. Keep this page open: it updates by itself.",
    not_yet_waiting: "If the kiosk is offline, come back to this link later in the day.",
    not_yet_recent: "A kiosk was in touch with this site {n} min ago: your badge should arrive within a few minutes.",
    not_yet_quiet: "No kiosk has reached this site for {n} min: your badge will arrive once its kiosk is back online, usually later today. Come back to this link later.",
    back: "← Back to the badge",
    issued_by: "Issued by",
    criteria: "Criteria",
    public_note: "This page shows an Open Badges 3.0 badge issued at the event. The signed badge is held by the person who earned it.",
    unknown_title: "Badge not found",
    unknown_body: "This link does not match any badge on this server. Check it, or ask whoever sent it for the link.",
    bad_address_title: "Invalid address",
    bad_address_body: "This address does not look valid: check it (for example name@example.com) and try again.",
    too_many_title: "Too many requests",
    too_many_body: "This badge, or this address, was already asked for by email 3 times this hour: try again in",
    too_many_after: ", or download it from its page.",
    minutes: "min",
    sent_title: "Sent",
    sent_body: "Your badge was sent. Check your inbox (and the spam folder):",
    refused_title: "Not sent",
    refused_body: "The mail server refused to send it: check the address and try again, or download the badge from its page. Address:",
    on_its_way_title: "On its way",
    on_its_way_body: "Your badge leaves within minutes (as soon as the hub is back online if it is offline) for",
    queued_title: "Request saved",
    queued_body: "The badge will be sent when the hub is online. Meanwhile you can download it from its page. Address:",
    cannot_send_title: "Cannot send",
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    wallet_title: "Into a wallet app",
    wallet_lcw: "Add to Learner Credential Wallet",
    wallet_lcw_hint: "The app opens, asks you to confirm, then offers to keep the badge. Nothing opens?",
    wallet_lcw_direct: "Open the installed app",
    wallet_openid: "Another wallet (OpenID4VCI)",
    wallet_openid_hint: "For wallets that accept OpenID credential offers: the app asks you to confirm, then keeps the badge.",
    wallet_qr_hint: "On a computer? Scan this code with the wallet app on your phone.",
    wallet_valid: "These links work once, within",
    wallet_valid_after: ": reload the page for new ones.",
    wallet_too_many: "Too many wallet links were asked for this badge this hour: try again in",
};

pub fn words(language: Language) -> &'static Words {
    match language {
        Language::Fr => &FRENCH,
        Language::En => &ENGLISH,
    }
}

impl Words {
    /// A day as people write it: `20 novembre 2026`, `20 November 2026`.
    pub fn date(&self, at_ms: i64) -> String {
        use chrono::Datelike;
        let Some(at) = chrono::DateTime::from_timestamp_millis(at_ms) else {
            return String::new();
        };
        let month = self.months.get(at.month0() as usize).copied().unwrap_or_default();
        format!("{} {month} {}", at.day(), at.year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_each_language() {
        let at = 1_795_000_000_000; // 18 November 2026, UTC
        assert_eq!(words(Language::Fr).date(at), "18 novembre 2026");
        assert_eq!(words(Language::En).date(at), "18 November 2026");
        assert_eq!(words(Language::En).date(i64::MAX), "");
    }
}

/// The badge email's texts in one language; the message carries both, the visitor's first.
#[derive(Debug)]
pub struct EmailWords {
    pub lang: &'static str,
    pub hello: &'static str,
    /// `{badge}`, `{issuer}`.
    pub intro: &'static str,
    /// `{image}`.
    pub attached: &'static str,
    pub json: &'static str,
    pub claim_page: &'static str,
    pub public_page: &'static str,
    pub linkedin: &'static str,
    pub why: &'static str,
}

pub const FRENCH_EMAIL: EmailWords = EmailWords {
    lang: "fr",
    hello: "Bonjour,",
    intro: "Voici votre badge « {badge} », délivré par {issuer}.",
    attached: "L'image jointe ({image}) contient votre badge vérifiable Open Badges 3.0 : gardez-la et importez-la dans votre portefeuille de badges.",
    json: "badge.json est le même justificatif, seul.",
    claim_page: "La page de votre badge (téléchargements, portefeuille, LinkedIn) :",
    public_page: "Sa page publique, à partager :",
    linkedin: "L'ajouter à votre profil LinkedIn :",
    why: "Vous recevez ce message parce que cette adresse a été donnée pour recevoir ce badge.",
};

pub const ENGLISH_EMAIL: EmailWords = EmailWords {
    lang: "en",
    hello: "Hello,",
    intro: "Here is your badge \u{201c}{badge}\u{201d}, issued by {issuer}.",
    attached: "The attached image ({image}) carries your verifiable Open Badges 3.0 badge: keep it and import it into your badge wallet.",
    json: "badge.json is the same credential on its own.",
    claim_page: "Your badge's page (downloads, wallet, LinkedIn):",
    public_page: "Its public page, to share:",
    linkedin: "Add it to your LinkedIn profile:",
    why: "You receive this message because this address was given to receive this badge.",
};

pub fn email_words(language: Language) -> &'static EmailWords {
    match language {
        Language::Fr => &FRENCH_EMAIL,
        Language::En => &ENGLISH_EMAIL,
    }
}
