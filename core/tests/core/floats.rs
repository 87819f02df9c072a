//! Every float of the protocol comes out of its JSON exactly as it went in: a reporter's
//! coordinates must not move by one ULP on the way to the desk.

use proptest::prelude::*;
use tipline_core::codename::Codename;
use tipline_core::envelope::{open_report, seal_report};
use tipline_core::keys::EncryptionSecretKey;
use tipline_core::report::{Place, Precision};

use crate::support::report_for;

#[test]
fn test_json_gives_back_every_double_bit_for_bit() {
    // Given many doubles of every magnitude (from random bit patterns, skipping NaN and
    // infinities, which JSON cannot carry)
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut checked = 0;
    while checked < 100_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let value = f64::from_bits(state);
        if !value.is_finite() {
            continue;
        }
        // When one goes through JSON and back
        let text = serde_json::to_string(&value).unwrap();
        let back: f64 = serde_json::from_str(&text).unwrap();
        // Then it is the same double
        assert_eq!(
            back.to_bits(),
            value.to_bits(),
            "{value:e} came back as {back:e} via {text}"
        );
        checked += 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn test_a_place_reaches_the_desk_exactly(latitude in -90.0f64..=90.0, longitude in -180.0f64..=180.0) {
        // Given a report whose place the reporter wrote as coordinates
        let codename = Codename::generate().unwrap();
        let mut report = report_for(&codename, "where it happened");
        report.place = Some(Place::Blurred { latitude, longitude, precision: Precision::Street });
        let unit = EncryptionSecretKey::generate().unwrap();

        // When it is sealed on the device and opened at the desk
        let sealed = seal_report(&report, "dk-test", &unit.public_key()).unwrap();
        let opened = open_report(&sealed.envelope, "dk-test", &unit).unwrap();

        // Then the coordinates are the same doubles
        let Some(Place::Blurred { latitude: lat, longitude: lon, .. }) = opened.report.place else {
            panic!("the place did not come back as coordinates");
        };
        prop_assert_eq!(lat.to_bits(), latitude.to_bits());
        prop_assert_eq!(lon.to_bits(), longitude.to_bits());
    }
}
