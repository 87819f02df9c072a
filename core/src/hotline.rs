//! "Open now" or "opens at" for a hotline, computed in the hotline's own time zone, so that a
//! reporter abroad or on a phone set to another zone sees the truth.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::directory::{Hotline, TimeOfDay};
use crate::l10n::Localizer;
use crate::Result;

/// Whether a hotline is open at a moment, in the hotline's own time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenStatus {
    /// Open now, until `closes_at`.
    OpenNow {
        /// When it closes, local time of the line.
        closes_at: DateTime<Tz>,
    },
    /// Closed now; opens at `opens_at`.
    Closed {
        /// When it next opens, local time of the line.
        opens_at: DateTime<Tz>,
    },
    /// The directory publishes no hours for this line.
    HoursNotPublished,
}

/// The moment `time` on local `date` in `tz`. In a daylight-saving gap the clocks skip that time,
/// so the first moment after the gap is taken; in an overlap, the earlier of the two.
fn local_moment(tz: Tz, date: NaiveDate, time: TimeOfDay) -> Option<DateTime<Tz>> {
    let (date, minutes) = if time == TimeOfDay::END_OF_DAY {
        (date.succ_opt()?, 0)
    } else {
        (date, u32::from(time.minutes()))
    };
    let naive = date.and_time(NaiveTime::from_hms_opt(minutes / 60, minutes % 60, 0)?);
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(t) => Some(t),
        LocalResult::Ambiguous(early, _) => Some(early),
        LocalResult::None => (1..=4)
            .map(|h| naive + Duration::hours(h))
            .find_map(|n| tz.from_local_datetime(&n).earliest()),
    }
}

/// The line's opening intervals that touch the days from `now - 1 day` to `now + 8 days`,
/// merged where one ends as the next begins (e.g. `20:00-24:00` then `00:00-02:00`).
fn intervals(hotline: &Hotline, tz: Tz, now: DateTime<Utc>) -> Vec<(DateTime<Tz>, DateTime<Tz>)> {
    let today = now.with_timezone(&tz).date_naive();
    let mut spans = Vec::new();
    for offset in -1..=8 {
        let Some(date) = today.checked_add_signed(Duration::days(offset)) else {
            continue;
        };
        let weekday = crate::directory::Weekday::from(chrono::Datelike::weekday(&date));
        for rule in hotline.hours.iter().filter(|r| r.days.contains(&weekday)) {
            if let (Some(open), Some(close)) = (
                local_moment(tz, date, rule.opens),
                local_moment(tz, date, rule.closes),
            ) {
                if open < close {
                    spans.push((open, close));
                }
            }
        }
    }
    spans.sort_by_key(|s| s.0);
    let mut merged: Vec<(DateTime<Tz>, DateTime<Tz>)> = Vec::with_capacity(spans.len());
    for (open, close) in spans {
        match merged.last_mut() {
            Some(last) if open <= last.1 => last.1 = last.1.max(close),
            _ => merged.push((open, close)),
        }
    }
    merged
}

/// Whether `hotline` is open at `now`, and until or from when.
pub fn open_status(hotline: &Hotline, now: DateTime<Utc>) -> Result<OpenStatus> {
    let tz = hotline.tz()?;
    if hotline.hours.is_empty() {
        return Ok(OpenStatus::HoursNotPublished);
    }
    let spans = intervals(hotline, tz, now);
    if let Some((_, close)) = spans.iter().find(|(open, close)| *open <= now && now < *close) {
        return Ok(OpenStatus::OpenNow { closes_at: *close });
    }
    Ok(match spans.iter().find(|(open, _)| *open > now) {
        Some((open, _)) => OpenStatus::Closed { opens_at: *open },
        None => OpenStatus::HoursNotPublished,
    })
}

/// The status as a sentence in the reporter's language: "Open now, until 22:00", "Closed, opens
/// tomorrow at 08:00", with times in the line's own zone.
pub fn status_text(status: &OpenStatus, now: DateTime<Utc>, l10n: &Localizer) -> String {
    match status {
        OpenStatus::OpenNow { closes_at } => l10n.text_with(
            "hotline-open-until",
            &[("time", closes_at.format("%H:%M").to_string().into())],
        ),
        OpenStatus::Closed { opens_at } => {
            let today = now.with_timezone(&opens_at.timezone()).date_naive();
            let date = opens_at.date_naive();
            let day_id = if date == today {
                "day-today".to_string()
            } else if Some(date) == today.succ_opt() {
                "day-tomorrow".to_string()
            } else {
                let day = crate::directory::Weekday::from(chrono::Datelike::weekday(&date));
                format!(
                    "day-{}",
                    serde_json::to_value(day)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                )
            };
            l10n.text_with(
                "hotline-opens-at",
                &[
                    ("day", l10n.text(&day_id).into()),
                    ("time", opens_at.format("%H:%M").to_string().into()),
                ],
            )
        }
        OpenStatus::HoursNotPublished => l10n.text("hotline-hours-unknown"),
    }
}

/// The number to dial as a `tel:` URI (RFC 3966), ready for the phone's dialler.
pub fn dial_uri(hotline: &Hotline) -> String {
    format!("tel:{}", hotline.number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::OpeningRule;

    fn danish_line(hours: Vec<OpeningRule>) -> Hotline {
        Hotline {
            id: "dk-national-hotline".into(),
            names: [("da".to_string(), "Den Nationale Hotline".to_string())].into(),
            number: "+4541749090".into(),
            display: "41 74 90 90".into(),
            time_zone: "Europe/Copenhagen".into(),
            hours,
            languages: vec!["da".into()],
            regions: vec!["DK".into()],
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn daily(opens: &str, closes: &str) -> OpeningRule {
        OpeningRule::daily(opens.parse().unwrap(), closes.parse().unwrap())
    }

    #[test]
    fn test_danish_line_daily_8_to_22_in_copenhagen_time() {
        let line = danish_line(vec![daily("08:00", "22:00")]);
        // 07:30 UTC in November is 08:30 in Copenhagen (UTC+1): open until 22:00 local.
        let status = open_status(&line, t("2026-11-21T07:30:00Z")).unwrap();
        let OpenStatus::OpenNow { closes_at } = status else {
            panic!("{status:?}")
        };
        assert_eq!(closes_at.to_rfc3339(), "2026-11-21T22:00:00+01:00");
        // 06:59 UTC is 07:59 local: closed, opens at 08:00 local.
        let status = open_status(&line, t("2026-11-21T06:59:00Z")).unwrap();
        assert_eq!(
            status,
            OpenStatus::Closed {
                opens_at: closes_at
                    .timezone()
                    .with_ymd_and_hms(2026, 11, 21, 8, 0, 0)
                    .unwrap()
            }
        );
        // 21:30 UTC is 22:30 local: closed until tomorrow 08:00.
        let OpenStatus::Closed { opens_at } = open_status(&line, t("2026-11-21T21:30:00Z")).unwrap() else {
            panic!()
        };
        assert_eq!(opens_at.to_rfc3339(), "2026-11-22T08:00:00+01:00");
    }

    #[test]
    fn test_a_zone_this_build_does_not_carry_is_a_clear_error() {
        // Given a line in a real zone outside the ones compiled in (see .cargo/config.toml)
        let mut line = danish_line(vec![daily("08:00", "22:00")]);
        line.time_zone = "Asia/Tokyo".into();
        // Then its status is an error that names the zone, not a wrong answer
        match open_status(&line, t("2026-11-21T07:30:00Z")) {
            Err(crate::Error::NotFound(what)) => assert!(what.contains("Asia/Tokyo"), "{what}"),
            other => panic!("expected an unknown zone, got {other:?}"),
        }
        // And the zones of the countries the hotlines serve are there, Spain's islands and
        // Ceuta, the Faroe Islands and Greenland's Nuuk included
        for zone in [
            "Europe/Copenhagen",
            "Europe/Madrid",
            "Atlantic/Canary",
            "Africa/Ceuta",
            "Atlantic/Faroe",
            "America/Nuuk",
            "UTC",
        ] {
            line.time_zone = zone.into();
            assert!(line.tz().is_ok(), "{zone}");
        }
    }

    #[test]
    fn test_summer_time_shifts_the_utc_hours() {
        // In July Copenhagen is UTC+2: 06:30 UTC is 08:30 local, open.
        let line = danish_line(vec![daily("08:00", "22:00")]);
        assert!(matches!(
            open_status(&line, t("2026-07-01T06:30:00Z")).unwrap(),
            OpenStatus::OpenNow { .. }
        ));
        // On the night clocks go forward (29 March 2026), 08:00 local is 06:00 UTC.
        let OpenStatus::Closed { opens_at } = open_status(&line, t("2026-03-29T05:00:00Z")).unwrap() else {
            panic!()
        };
        assert_eq!(opens_at.with_timezone(&Utc), t("2026-03-29T06:00:00Z"));
    }

    #[test]
    fn test_overnight_rules_merge_and_weekdays_are_respected() {
        use crate::directory::Weekday::*;
        let line = danish_line(vec![
            OpeningRule {
                days: vec![Friday],
                opens: "20:00".parse().unwrap(),
                closes: "24:00".parse().unwrap(),
            },
            OpeningRule {
                days: vec![Saturday],
                opens: "00:00".parse().unwrap(),
                closes: "02:00".parse().unwrap(),
            },
        ]);
        // Friday 20 November 2026, 23:00 local (22:00 UTC): open until Saturday 02:00.
        let OpenStatus::OpenNow { closes_at } = open_status(&line, t("2026-11-20T22:00:00Z")).unwrap() else {
            panic!()
        };
        assert_eq!(closes_at.to_rfc3339(), "2026-11-21T02:00:00+01:00");
        // Saturday 12:00 local: next opening is next Friday 20:00.
        let OpenStatus::Closed { opens_at } = open_status(&line, t("2026-11-21T11:00:00Z")).unwrap() else {
            panic!()
        };
        assert_eq!(opens_at.to_rfc3339(), "2026-11-27T20:00:00+01:00");
    }

    #[test]
    fn test_status_text_in_danish_and_english() {
        use crate::l10n::{Language, Localizer};
        let line = danish_line(vec![daily("08:00", "22:00")]);
        let da = Localizer::new(Language::Danish);
        let en = Localizer::new(Language::English);
        let now = t("2026-11-21T07:30:00Z");
        assert_eq!(
            status_text(&open_status(&line, now).unwrap(), now, &da),
            "Åben nu, indtil kl. 22:00"
        );
        let late = t("2026-11-21T21:30:00Z");
        assert_eq!(
            status_text(&open_status(&line, late).unwrap(), late, &en),
            "Closed, opens tomorrow at 08:00"
        );
        let early = t("2026-11-21T06:00:00Z");
        assert_eq!(
            status_text(&open_status(&line, early).unwrap(), early, &da),
            "Lukket, åbner i dag kl. 08:00"
        );
        let friday_only = danish_line(vec![OpeningRule {
            days: vec![crate::directory::Weekday::Friday],
            opens: "08:00".parse().unwrap(),
            closes: "12:00".parse().unwrap(),
        }]);
        assert_eq!(
            status_text(&open_status(&friday_only, late).unwrap(), late, &en),
            "Closed, opens Friday at 08:00"
        );
    }

    #[test]
    fn test_unpublished_hours_and_dial_uri() {
        let line = danish_line(vec![]);
        assert_eq!(
            open_status(&line, Utc::now()).unwrap(),
            OpenStatus::HoursNotPublished
        );
        assert_eq!(dial_uri(&line), "tel:+4541749090");
    }
}
