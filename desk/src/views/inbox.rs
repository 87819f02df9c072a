//! The inbox: every stored report in one table, filtered (status, category, label, assignee,
//! dates), sorted, and searched over the opened content, all from memory. `/inbox/rows` answers
//! the table's rows alone, for the page's script to refresh when told something changed.

use askama::Template;
use axum::extract::{Query, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use chrono::{NaiveDate, TimeZone, Utc};
use serde::Deserialize;
use tipline_core::desk::Status;

use super::{render, time, Me, Officer};
use crate::error::{DeskError, Result};
use crate::index::Entry;
use crate::l10n::Tr;
use crate::state::AppState;
use crate::team::CaseData;

/// Most words of a search looked for.
pub const MAX_WORDS: usize = 16;

/// Most rows one page shows.
pub const PAGE: usize = 200;

/// `/`, `/inbox/rows`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/inbox/rows", get(rows))
}

/// The inbox's filters, from the query.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    status: Option<String>,
    category: Option<String>,
    label: Option<String>,
    assignee: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    page: Option<usize>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// One row of the inbox.
pub struct Row {
    id: String,
    short: String,
    category: String,
    received: String,
    region: String,
    status: String,
    status_name: &'static str,
    assignee: String,
    labels: Vec<String>,
    attachments: usize,
    unread: usize,
}

/// Status names and their labels, for the filter and the status form.
pub fn statuses(tr: &Tr) -> Vec<(&'static str, String)> {
    [Status::New, Status::InProgress, Status::Forwarded, Status::Closed]
        .into_iter()
        .map(|s| (s.name(), tr.t(&format!("status-{}", s.name()))))
        .collect()
}

fn keep(entry: &Entry, case: &CaseData, filters: &Filters, me: &str, words: &[String]) -> bool {
    if let Some(status) = non_empty(&filters.status) {
        if entry.status.name() != status {
            return false;
        }
    }
    if let Some(category) = non_empty(&filters.category) {
        if entry.category != category {
            return false;
        }
    }
    if let Some(label) = non_empty(&filters.label) {
        if !case.labels.iter().any(|l| l == label) {
            return false;
        }
    }
    match non_empty(&filters.assignee) {
        Some("-") if case.assignee.is_some() => return false,
        Some("@me") if case.assignee.as_deref() != Some(me) => return false,
        Some(name) if !matches!(name, "-" | "@me") && case.assignee.as_deref() != Some(name) => return false,
        _ => {}
    }
    let day = |text: Option<&str>, end: bool| {
        let date = NaiveDate::parse_from_str(text?, "%Y-%m-%d").ok()?;
        let t = if end {
            date.and_hms_opt(23, 59, 59)?
        } else {
            date.and_hms_opt(0, 0, 0)?
        };
        Some(Utc.from_utc_datetime(&t))
    };
    if let Some(from) = day(non_empty(&filters.from), false) {
        if entry.received_at < from {
            return false;
        }
    }
    if let Some(to) = day(non_empty(&filters.to), true) {
        if entry.received_at > to {
            return false;
        }
    }
    entry.matches(words)
}

/// The rows `filters` select, sorted, the page of [`PAGE`] it asks for; and how many matched
/// in all.
pub fn select(state: &AppState, tr: &Tr, filters: &Filters, me: &str) -> Result<(Vec<Row>, usize)> {
    let words: Vec<String> = non_empty(&filters.q)
        .map(|q| q.to_lowercase().split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
    // Each word is looked for in every report, under the index's lock.
    if words.len() > MAX_WORDS {
        return Err(DeskError::invalid("search", format!("at most {MAX_WORDS} words")));
    }
    let empty = CaseData::default();
    state.with_index(|index, cases| {
        let mut found: Vec<(&Entry, &CaseData)> = index
            .entries()
            .map(|e| (e, cases.get(&e.id).unwrap_or(&empty)))
            .filter(|(e, c)| keep(e, c, filters, me, &words))
            .collect();
        match non_empty(&filters.sort).unwrap_or("newest") {
            "oldest" => found.sort_by_key(|(e, _)| (e.received_at, e.id)),
            // By the label the officer reads.
            "category" => found.sort_by_cached_key(|(e, _)| {
                (
                    state.categories.label(&e.category, tr.lang()),
                    std::cmp::Reverse(e.received_at),
                    e.id,
                )
            }),
            "status" => found.sort_by_key(|(e, _)| (e.status.name(), std::cmp::Reverse(e.received_at))),
            "unread" => found.sort_by_key(|(e, c)| {
                (
                    std::cmp::Reverse(e.unread(c.read_seq)),
                    std::cmp::Reverse(e.received_at),
                )
            }),
            _ => found.sort_by_key(|(e, _)| (std::cmp::Reverse(e.received_at), e.id)),
        }
        let total = found.len();
        let rows = found
            .into_iter()
            .skip(filters.page.unwrap_or(0).saturating_mul(PAGE))
            .take(PAGE)
            .map(|(e, c)| Row {
                id: e.id_text.clone(),
                short: e.id_text[..8].to_owned(),
                category: state.categories.label(&e.category, tr.lang()),
                received: time(&e.received_at),
                region: e.region.clone(),
                status: tr.t(&format!("status-{}", e.status.name())),
                status_name: e.status.name(),
                assignee: c.assignee.clone().unwrap_or_default(),
                labels: c.labels.clone(),
                attachments: e.attachments,
                unread: e.unread(c.read_seq),
            })
            .collect();
        (rows, total)
    })
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    tr: Tr,
    me: Option<Me>,
    rows: Vec<Row>,
    total: usize,
    paging: Paging,
    filters: Filters,
    statuses: Vec<(&'static str, String)>,
    /// Category ids and their labels, by label.
    categories: Vec<(String, String)>,
    labels: Vec<String>,
    officers: Vec<String>,
}

#[derive(Template)]
#[template(path = "inbox_rows.html")]
struct InboxRows {
    tr: Tr,
    rows: Vec<Row>,
    total: usize,
    paging: Paging,
}

/// Where a page of rows sits among all that matched.
pub struct Paging {
    /// The query without the language switch or the page, for links.
    base: String,
    /// This page, from 0.
    page: usize,
    /// The previous page, if any.
    previous: Option<usize>,
    /// The next page, if any.
    next: Option<usize>,
}

impl Paging {
    fn new(raw: Option<String>, page: usize, total: usize) -> Paging {
        let base = raw
            .map(|q| {
                super::form_pairs(&q)
                    .into_iter()
                    .filter(|(n, _)| n != "lang" && n != "page")
                    .collect::<Vec<_>>()
            })
            .and_then(|pairs| serde_urlencoded::to_string(pairs).ok())
            .unwrap_or_default();
        Paging {
            base,
            page,
            previous: page.checked_sub(1),
            next: (total > page.saturating_add(1).saturating_mul(PAGE)).then(|| page.saturating_add(1)),
        }
    }
}

impl InboxPage {
    fn selected(&self, field: &str, value: &str) -> bool {
        let current = match field {
            "status" => &self.filters.status,
            "category" => &self.filters.category,
            "label" => &self.filters.label,
            "assignee" => &self.filters.assignee,
            _ => &self.filters.sort,
        };
        current.as_deref() == Some(value)
    }

    fn value(&self, field: &str) -> String {
        match field {
            "q" => &self.filters.q,
            "from" => &self.filters.from,
            _ => &self.filters.to,
        }
        .clone()
        .unwrap_or_default()
    }
}

async fn page(
    State(state): State<AppState>,
    officer: Officer,
    Query(filters): Query<Filters>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (rows, total) = select(&state, &officer.tr, &filters, &officer.account.name)?;
    let (mut ids, mut labels) = state.with_index(|index, cases| {
        let categories: Vec<String> = index.entries().map(|e| e.category.clone()).collect();
        let labels: Vec<String> = cases.values().flat_map(|c| c.labels.iter().cloned()).collect();
        (categories, labels)
    })?;
    ids.sort();
    ids.dedup();
    let mut categories: Vec<(String, String)> = ids
        .into_iter()
        .map(|id| {
            let label = state.categories.label(&id, officer.tr.lang());
            (id, label)
        })
        .collect();
    categories.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    labels.sort();
    labels.dedup();
    let officers = state
        .accounts()
        .into_iter()
        .filter(|a| !a.disabled)
        .map(|a| a.name)
        .collect();
    let paging = Paging::new(query, filters.page.unwrap_or(0), total);
    render(&InboxPage {
        statuses: statuses(&officer.tr),
        me: Some(officer.me()),
        tr: officer.tr,
        rows,
        total,
        paging,
        filters,
        categories,
        labels,
        officers,
    })
}

async fn rows(
    State(state): State<AppState>,
    officer: Officer,
    Query(filters): Query<Filters>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let (rows, total) = select(&state, &officer.tr, &filters, &officer.account.name)?;
    render(&InboxRows {
        tr: officer.tr,
        rows,
        paging: Paging::new(query, filters.page.unwrap_or(0), total),
        total,
    })
}
