//! The API's paths, once: [`route`] holds the templates the server routes by (under
//! [`PREFIX`]), and the functions below fill them for the clients, so a path cannot differ
//! between the two.

use crate::report::{CaseId, ReportId};

/// Every API route is under this prefix (the health and metrics routes are not).
pub const PREFIX: &str = "/v1";

/// Route templates under [`PREFIX`], in the router's `{name}` syntax.
pub mod route {
    /// `GET`: the server's public configuration.
    pub const CONFIG: &str = "/config";
    /// `GET`, `PUT`: the signed directory.
    pub const DIRECTORY: &str = "/directory";
    /// `POST`: file a report.
    pub const REPORTS: &str = "/reports";
    /// `HEAD`, `PATCH`: a report's attachment upload (case secret).
    pub const ATTACHMENT: &str = "/reports/{report_id}/attachments/{index}";
    /// `GET`, `POST`: the reporter's side of a case (case secret).
    pub const CASE_MESSAGES: &str = "/cases/{case_id}/messages";
    /// `GET`: alerts for a region.
    pub const ALERTS: &str = "/alerts";
    /// `GET`: the OpenAPI document.
    pub const OPENAPI: &str = "/openapi.json";
    /// The unit routes, all signed with the unit's key, start with this.
    pub const UNIT: &str = "/units/{unit_id}";
    /// `GET`: lease pending reports.
    pub const UNIT_INBOX: &str = "/units/{unit_id}/inbox";
    /// `GET`: the live inbox (server-sent events).
    pub const UNIT_INBOX_STREAM: &str = "/units/{unit_id}/inbox/stream";
    /// `POST`: acknowledge a report.
    pub const UNIT_ACK: &str = "/units/{unit_id}/reports/{report_id}/ack";
    /// `POST`: acknowledge a batch of reports.
    pub const UNIT_ACKS: &str = "/units/{unit_id}/acks";
    /// `GET`: download a report's sealed attachment.
    pub const UNIT_ATTACHMENT: &str = "/units/{unit_id}/reports/{report_id}/attachments/{index}";
    /// `POST`: hand a report to another unit.
    pub const UNIT_TRANSFER: &str = "/units/{unit_id}/reports/{report_id}/transfer";
    /// `GET`, `POST`: the unit's side of a case.
    pub const UNIT_CASE_MESSAGES: &str = "/units/{unit_id}/cases/{case_id}/messages";
    /// `POST`: publish a signed alert.
    pub const UNIT_ALERTS: &str = "/units/{unit_id}/alerts";

    /// Every route, for checks that the server and its document serve each of them.
    pub const ALL: &[&str] = &[
        CONFIG,
        DIRECTORY,
        REPORTS,
        ATTACHMENT,
        CASE_MESSAGES,
        ALERTS,
        OPENAPI,
        UNIT_INBOX,
        UNIT_INBOX_STREAM,
        UNIT_ACK,
        UNIT_ACKS,
        UNIT_ATTACHMENT,
        UNIT_TRANSFER,
        UNIT_CASE_MESSAGES,
        UNIT_ALERTS,
    ];
}

/// The full path of `template` (under [`PREFIX`]) with each `{name}` replaced by its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut path = String::with_capacity(PREFIX.len() + template.len() + 64);
    path.push_str(PREFIX);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        path.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').unwrap_or(after.len());
        let name = &after[..close];
        match values.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => path.push_str(value),
            // A template's parameter without a value stays as it is: a bug the tests catch.
            None => {
                path.push('{');
                path.push_str(name);
                path.push('}');
            }
        }
        rest = after.get(close + 1..).unwrap_or("");
    }
    path.push_str(rest);
    path
}

/// `/v1/config`.
pub fn config() -> String {
    fill(route::CONFIG, &[])
}

/// `/v1/directory`.
pub fn directory() -> String {
    fill(route::DIRECTORY, &[])
}

/// `/v1/reports`.
pub fn reports() -> String {
    fill(route::REPORTS, &[])
}

/// `/v1/reports/{report_id}/attachments/{index}`.
pub fn attachment(report_id: ReportId, index: u16) -> String {
    fill(
        route::ATTACHMENT,
        &[
            ("report_id", &report_id.to_string()),
            ("index", &index.to_string()),
        ],
    )
}

/// `/v1/cases/{case_id}/messages`.
pub fn case_messages(case_id: CaseId) -> String {
    fill(route::CASE_MESSAGES, &[("case_id", &case_id.to_string())])
}

/// `/v1/alerts`.
pub fn alerts() -> String {
    fill(route::ALERTS, &[])
}

/// `/v1/openapi.json`.
pub fn openapi() -> String {
    fill(route::OPENAPI, &[])
}

/// `/v1/units/{unit_id}/inbox`.
pub fn unit_inbox(unit_id: &str) -> String {
    fill(route::UNIT_INBOX, &[("unit_id", unit_id)])
}

/// `/v1/units/{unit_id}/inbox/stream`.
pub fn unit_inbox_stream(unit_id: &str) -> String {
    fill(route::UNIT_INBOX_STREAM, &[("unit_id", unit_id)])
}

/// `/v1/units/{unit_id}/reports/{report_id}/ack`.
pub fn unit_ack(unit_id: &str, report_id: ReportId) -> String {
    fill(
        route::UNIT_ACK,
        &[("unit_id", unit_id), ("report_id", &report_id.to_string())],
    )
}

/// `/v1/units/{unit_id}/acks`.
pub fn unit_acks(unit_id: &str) -> String {
    fill(route::UNIT_ACKS, &[("unit_id", unit_id)])
}

/// `/v1/units/{unit_id}/reports/{report_id}/attachments/{index}`.
pub fn unit_attachment(unit_id: &str, report_id: ReportId, index: u16) -> String {
    fill(
        route::UNIT_ATTACHMENT,
        &[
            ("unit_id", unit_id),
            ("report_id", &report_id.to_string()),
            ("index", &index.to_string()),
        ],
    )
}

/// `/v1/units/{unit_id}/reports/{report_id}/transfer`.
pub fn unit_transfer(unit_id: &str, report_id: ReportId) -> String {
    fill(
        route::UNIT_TRANSFER,
        &[("unit_id", unit_id), ("report_id", &report_id.to_string())],
    )
}

/// `/v1/units/{unit_id}/cases/{case_id}/messages`.
pub fn unit_case_messages(unit_id: &str, case_id: CaseId) -> String {
    fill(
        route::UNIT_CASE_MESSAGES,
        &[("unit_id", unit_id), ("case_id", &case_id.to_string())],
    )
}

/// `/v1/units/{unit_id}/alerts`.
pub fn unit_alerts(unit_id: &str) -> String {
    fill(route::UNIT_ALERTS, &[("unit_id", unit_id)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths_fill_every_parameter_of_their_template() {
        let report = ReportId([0xab; 16]);
        let case = CaseId([0xcd; 16]);
        let report_hex = "ab".repeat(16);
        let case_hex = "cd".repeat(16);
        assert_eq!(config(), "/v1/config");
        assert_eq!(
            attachment(report, 3),
            format!("/v1/reports/{report_hex}/attachments/3")
        );
        assert_eq!(
            unit_case_messages("dk-east", case),
            format!("/v1/units/dk-east/cases/{case_hex}/messages")
        );
        for path in [
            config(),
            directory(),
            reports(),
            attachment(report, 0),
            case_messages(case),
            alerts(),
            openapi(),
            unit_inbox("u"),
            unit_inbox_stream("u"),
            unit_ack("u", report),
            unit_acks("u"),
            unit_attachment("u", report, 1),
            unit_transfer("u", report),
            unit_case_messages("u", case),
            unit_alerts("u"),
        ] {
            assert!(path.starts_with("/v1/"), "{path}");
            assert!(!path.contains('{') && !path.contains('}'), "{path}");
        }
    }

    #[test]
    fn test_fill_leaves_a_parameter_without_a_value_visible() {
        assert_eq!(fill("/a/{x}/b", &[]), "/v1/a/{x}/b");
        assert_eq!(fill("/a/{x}/b", &[("x", "1")]), "/v1/a/1/b");
    }
}
