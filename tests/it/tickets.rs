//! Plain tickets from a ticketing allow-list: no key signs them, so the hub awards a
//! kiosk's ticket record only once the organiser imported the same list on the hub.

use super::helpers::TestKiosk;

fn awards(hub_dir: &std::path::Path) -> Vec<(String, String)> {
    let connection = rusqlite::Connection::open(hub_dir.join("hub.sqlite")).unwrap();
    let mut statement = connection
        .prepare("SELECT badge_id, recipient FROM awards ORDER BY recipient")
        .unwrap();
    let rows = statement
        .query_map([], |row| Ok((row.get(0).unwrap(), row.get(1).unwrap())))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn allow_listed_tickets_are_awarded_once_the_hub_holds_the_list() {
    let kiosk = TestKiosk::demo();
    let work = kiosk.dir.path();
    let kiosk_list = work.join("tickets.csv");
    std::fs::write(&kiosk_list, "barcode;registration\nT-0001;R-1\nT-0002;\nT-0003;R-3\n").unwrap();
    kiosk.ok(&["tickets", kiosk_list.to_str().unwrap()]);
    assert!(kiosk.ok(&["claim", "T-0001"]).contains("saved"));
    assert!(kiosk
        .ok(&["claim", "T-0002", "--email", "deux@example.org"])
        .contains("saved"));
    assert!(kiosk.ok(&["claim", "T-0003"]).contains("saved"));
    let usb = work.join("usb");
    std::fs::create_dir_all(&usb).unwrap();
    kiosk.ok(&["export", "--to", usb.to_str().unwrap()]);
    let bundle = std::fs::read_dir(&usb).unwrap().next().unwrap().unwrap().path();

    let hub_dir = work.join("hub");
    // `badge-kiosk hub <command> FILE --data HUB`, its output.
    let on_hub = |command: &str, file: &std::path::Path| {
        kiosk.ok(&[
            "hub",
            command,
            file.to_str().unwrap(),
            "--data",
            hub_dir.to_str().unwrap(),
        ])
    };
    let imported = on_hub("import", &bundle);
    assert!(imported.contains("3 accepted"), "{imported}");
    assert!(awards(&hub_dir).is_empty(), "no award before the hub holds the list");

    // The hub's copy: T-0003 is missing, and T-0001 names another registration.
    let hub_list = work.join("hub-tickets.csv");
    std::fs::write(&hub_list, "barcode,registration\nT-0001,R-9\nT-0002,\n").unwrap();
    let out = on_hub("tickets", &hub_list);
    assert!(out.contains("2 tickets on the list (2 new)"), "{out}");
    assert!(out.contains("1 record kept for review is now awarded"), "{out}");
    assert!(
        out.contains("another registration") || out.contains("registration its ticket"),
        "{out}"
    );
    let held = awards(&hub_dir);
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].1.starts_with("email-sha256:"), "{held:?}");

    // The corrected list: T-0001 awarded to R-1; T-0003 still kept for review.
    std::fs::write(&hub_list, "barcode,registration\nT-0001,R-1\nT-0002,\n").unwrap();
    let out = on_hub("tickets", &hub_list);
    assert!(
        out.contains("(0 new)") && out.contains("1 record kept for review is now awarded"),
        "{out}"
    );
    let held = awards(&hub_dir);
    assert_eq!(held.len(), 2, "{held:?}");
    assert_eq!(held[1].1, "registration:R-1", "{held:?}");

    // Again: nothing changes, nothing is awarded twice.
    let out = on_hub("tickets", &hub_list);
    assert!(out.contains("0 records kept for review are now awarded"), "{out}");
    assert_eq!(awards(&hub_dir).len(), 2);
    // Redelivering the bundle keeps the same answers and awards.
    let again = on_hub("import", &bundle);
    assert!(again.contains("imported before"), "{again}");
    assert_eq!(awards(&hub_dir).len(), 2);
}
